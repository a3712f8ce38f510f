"""`training.report_to`: the experiment trackers transformers reports to, beside the job's own events.

TensorBoard's event files go to `<output_dir>/tensorboard/` (beside the adapter and checkpoints), where the
dashboard's "Open TensorBoard" points. Weights & Biases and MLflow read their own settings from the
environment (WANDB_API_KEY, WANDB_PROJECT, MLFLOW_TRACKING_URI...), as transformers documents; a tracker whose
package is not installed is a config error naming the package, before the model loads.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import FinetuneConfig

TENSORBOARD_FOLDER = "tensorboard"
# The module each tracker needs, as transformers' integrations import it, and the package that brings it.
TRACKER_PACKAGES = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow"),
    "comet_ml": ("comet_ml", "comet-ml"),
    "clearml": ("clearml", "clearml"),
    "trackio": ("trackio", "trackio"),
}


def configured_trackers(config: FinetuneConfig) -> list[str]:
    value = config.training.get("report_to", "none")
    names = [value] if isinstance(value, str) else list(value)
    return [name for name in names if name != "none"]


def tensorboard_dir(config: FinetuneConfig) -> Path | None:
    return config.output_dir / TENSORBOARD_FOLDER if "tensorboard" in configured_trackers(config) else None


def report_targets(config: FinetuneConfig) -> list[str] | str:
    """The value for TrainingArguments.report_to; checks that each tracker's package is installed and points
    TensorBoard's writer at the run's folder."""
    names = configured_trackers(config)
    for name in names:
        module, package = TRACKER_PACKAGES[name]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"$.training.report_to: {name} needs the {package} package on the trainer: pip install {package}")
    folder = tensorboard_dir(config)
    if folder is not None:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(folder)
    return names or "none"
