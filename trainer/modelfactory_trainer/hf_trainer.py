"""The Hugging Face Trainer subclass and callback of a training run (`train.py` and `preference.py` use them).

Imported only once a run builds its Trainer, so importing `train.py` stays light (no torch, no transformers).

- `SafetensorsTrainer`: checkpoints with no pickle (safetensors and JSON), real token and sample counts, and the
  forced-OOM test hook;
- `JobEventsCallback`: Trainer hooks to job events (`start`, `log`, `eval`, `checkpoint`), and cancellation at
  optimizer-step boundaries (all ranks agree under torchrun). It is added to a Trainer once built
  (`JobEventsCallback.attach`), so it reads that Trainer's counters directly.
- `OomDuringTraining`: a CUDA out-of-memory in `Trainer.train`, with the step it reached.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import PrinterCallback, ProgressCallback, Trainer, TrainerCallback

from .checkpoints import (
    OPTIMIZER_FILE,
    SCALER_FILE,
    SCHEDULER_FILE,
    load_optimizer_state,
    load_rng_state,
    save_optimizer_state,
    save_rng_state,
    write_json_durably,
)
from .events import EventWriter
from .train import FORCE_OOM_ENV, preference_log_fields

if TYPE_CHECKING:
    from .train import CancelState


class OomDuringTraining(Exception):
    """CUDA ran out of memory inside `Trainer.train`, at `step`."""

    def __init__(self, step: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.step = step


class SafetensorsTrainer(Trainer):  # type: ignore[misc]
    """Trainer whose checkpoints hold no pickle, which counts real tokens, and which has the OOM test hook."""

    tokens_seen = 0
    samples_seen = 0
    force_oom_at_step: int | None = None

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        if self.force_oom_at_step is not None and self.state.global_step + 1 >= self.force_oom_at_step:
            raise torch.OutOfMemoryError(
                f"CUDA out of memory (forced at step {self.force_oom_at_step} by the test hook {FORCE_OOM_ENV})"
            )
        mask = inputs.get("attention_mask")
        self.tokens_seen += int(mask.sum()) if mask is not None else int(inputs["input_ids"].numel())
        self.samples_seen += int(inputs["input_ids"].shape[0])
        return super().training_step(model, inputs, num_items_in_batch)

    def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
        target = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(target, exist_ok=True)
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        model.save_pretrained(target, state_dict=state_dict, safe_serialization=True)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(target)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        if not self.args.should_save:
            return
        save_optimizer_state(self.optimizer, Path(output_dir) / OPTIMIZER_FILE)
        scheduler_state = {k: v for k, v in self.lr_scheduler.state_dict().items() if k != "lr_lambdas"}
        write_json_durably(Path(output_dir) / SCHEDULER_FILE, scheduler_state)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        load_optimizer_state(self.optimizer, Path(checkpoint) / OPTIMIZER_FILE)
        import json

        with open(Path(checkpoint) / SCHEDULER_FILE, encoding="utf-8") as handle:
            scheduler_state = json.load(handle)
        scheduler_state["lr_lambdas"] = [None] * len(scheduler_state.get("base_lrs", []))
        self.lr_scheduler.load_state_dict(scheduler_state)

    def _save_scaler(self, output_dir: str) -> None:
        scaler = getattr(self.accelerator, "scaler", None)
        if scaler is not None and self.args.should_save:
            write_json_durably(Path(output_dir) / SCALER_FILE, dict(scaler.state_dict()))

    def _load_scaler(self, checkpoint: str | None) -> None:
        scaler = getattr(self.accelerator, "scaler", None)
        path = Path(checkpoint) / SCALER_FILE if checkpoint else None
        if scaler is not None and path is not None and path.is_file():
            import json

            scaler.load_state_dict(json.loads(path.read_text(encoding="utf-8")))

    def _rng_file(self, directory: str) -> Path:
        suffix = f"_{self.args.process_index}" if self.args.world_size > 1 else ""
        return Path(directory) / f"rng_state{suffix}.safetensors"

    def _save_rng_state(self, output_dir: str) -> None:
        os.makedirs(output_dir, exist_ok=True)
        save_rng_state(self._rng_file(output_dir))

    def _load_rng_state(self, checkpoint: str | None) -> None:
        if checkpoint is not None and self._rng_file(checkpoint).is_file():
            load_rng_state(self._rng_file(checkpoint))

class JobEventsCallback(TrainerCallback):  # type: ignore[misc]
    """Turns Trainer hooks into job events and honours cancellation at step boundaries."""

    def __init__(self, trainer: Any, events: EventWriter, cancel: CancelState, start_fields: dict[str, Any]):
        self.trainer = trainer  # the Trainer this callback reports on: its token and sample counters
        self.events = events
        self.cancel = cancel
        self.start_fields = start_fields
        self.last_eval_loss: float | None = None
        self.last_eval_step = -1
        self.train_loss: float | None = None
        self._mark_time = time.time()
        self._mark_tokens = 0
        self._mark_samples = 0
        self._begin_time = time.time()
        self._begin_step = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._begin_time = self._mark_time = time.time()
        self._begin_step = state.global_step
        epochs = float(args.num_train_epochs)
        if args.max_steps > 0:
            # A step limit overrides epochs: report how many passes over the data it amounts to.
            batches = math.ceil(self.start_fields["train_records"] / (args.per_device_train_batch_size * args.world_size))
            updates_per_epoch = max(math.ceil(batches / args.gradient_accumulation_steps), 1)
            epochs = args.max_steps / updates_per_epoch
        self.events.emit("start", total_steps=int(state.max_steps), epochs=epochs, **self.start_fields)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.cancel.step = int(state.global_step)
        requested = self.cancel.requested.is_set()
        if args.world_size > 1 and torch.distributed.is_initialized():
            # Ranks may see the signal a step apart; agreeing here keeps their collectives in step.
            flag = torch.tensor([1 if requested else 0], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            requested = bool(flag.item())
            if requested:
                self.cancel.requested.set()
        if requested:
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        step = int(state.global_step)
        if "eval_loss" in logs:
            self.last_eval_loss = float(logs["eval_loss"])
            self.last_eval_step = step
            eval_rewards = preference_log_fields({k[5:]: v for k, v in logs.items() if k.startswith("eval_")}, "eval_")
            self.events.emit("eval", step=step, epoch=float(state.epoch or 0.0), eval_loss=self.last_eval_loss, **eval_rewards)
        if "train_loss" in logs:
            self.train_loss = float(logs["train_loss"])
        if "loss" not in logs:
            return
        trainer = self.trainer
        now = time.time()
        elapsed = max(now - self._mark_time, 1e-9)
        world = max(int(args.world_size), 1)
        tokens_per_second = (trainer.tokens_seen - self._mark_tokens) * world / elapsed
        samples_per_second = (trainer.samples_seen - self._mark_samples) * world / elapsed
        self._mark_time, self._mark_tokens, self._mark_samples = now, trainer.tokens_seen, trainer.samples_seen
        steps_done = max(step - self._begin_step, 1)
        eta = (now - self._begin_time) / steps_done * max(int(state.max_steps) - step, 0)
        gpu_memory = torch.cuda.max_memory_allocated() / float(1 << 30) if torch.cuda.is_available() else None
        grad_norm = logs.get("grad_norm")
        rewards = preference_log_fields(logs)
        self.events.emit(
            "log",
            step=step,
            total_steps=int(state.max_steps),
            epoch=float(logs.get("epoch", state.epoch or 0.0)),
            loss=float(logs["loss"]),
            learning_rate=float(logs.get("learning_rate", 0.0)),
            grad_norm=float(grad_norm) if grad_norm is not None else None,
            tokens_per_second=tokens_per_second,
            samples_per_second=samples_per_second,
            gpu_memory_gb=gpu_memory,
            eta_seconds=eta,
            **rewards,
        )

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.events.emit("checkpoint", step=int(state.global_step), path=str(path))


    @classmethod
    def attach(cls, trainer: Any, events: EventWriter, cancel: CancelState, start_fields: dict[str, Any]) -> JobEventsCallback:
        """Add the job's callback to a built Trainer, without the console printers; returns the callback."""
        callback = cls(trainer, events, cancel, start_fields)
        trainer.add_callback(callback)
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        return callback


def train_reporting_oom(trainer: Any, resume_from: Path | None) -> Any:
    """`trainer.train`, a CUDA OOM raised as `OomDuringTraining` with the step it reached."""
    try:
        return trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
    except torch.OutOfMemoryError as exc:
        raise OomDuringTraining(int(trainer.state.global_step), exc) from exc
