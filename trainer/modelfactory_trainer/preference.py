"""Preference tuning (`objective: dpo | orpo | kto`) through TRL's trainers, with the job's LoRA adapter.

The base model loads as for sft (4-bit for qlora) and TRL wraps it with the config's LoRA settings
(`peft_config`). DPO and KTO then need a reference model: with a LoRA adapter TRL computes the reference
log-probabilities with the adapter disabled, i.e. the frozen base itself, so no second copy is loaded.
ORPO has no reference model. Records come from the record contract (records.py): a preference example's
prompt, chosen and rejected turns, a KTO example's prompt, completion and label; TRL renders them with the
chat template training uses everywhere (the config's, else the model's own, else the fallback), set on the
tokenizer. Events, cancel, checkpoints without pickle and the adapter folder are those of `train`
(train.py); log events also carry TRL's reward metrics as reward_margin / reward_accuracy.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Sequence

from .data import Example, fallback_template, has_chat_template, renders_reasoning
from .errors import ConfigError, DatasetError
from .records import template_turns as records_template_turns

if TYPE_CHECKING:
    from .events import EventWriter
    from .train import CancelState, PreparedJob

DEFAULT_BETA = 0.1
# The Trainer methods train.py's SafetensorsTrainer replaces so that checkpoints hold no pickle.
_SAFETENSORS_METHODS = (
    "_save",
    "_save_optimizer_and_scheduler",
    "_load_optimizer_and_scheduler",
    "_save_scaler",
    "_load_scaler",
    "_rng_file",
    "_save_rng_state",
    "_load_rng_state",
)


def preference_rows(examples: Sequence[Example], objective: str, inline_reasoning: bool = False) -> list[dict[str, Any]]:
    """The examples as TRL's conversational rows: prompt/chosen/rejected (dpo, orpo) or prompt/completion/label (kto).

    `inline_reasoning`: the template renders no reasoning keys, so an answer's reasoning goes into its content.
    """
    rows: list[dict[str, Any]] = []
    with_tools = any(example.tools for example in examples)
    template_turns = functools.partial(records_template_turns, inline_reasoning=inline_reasoning)
    for example in examples:
        data = example.example
        prompt = template_turns(list(data.get("messages", [])))
        if objective == "kto":
            if example.kind != "kto":
                raise DatasetError(f"{example.source}: objective kto trains kto records (prompt, completion, label)")
            row: dict[str, Any] = {
                "prompt": prompt,
                "completion": template_turns(list(data["completion"])),
                "label": bool(data["label"]),
            }
        else:
            if example.kind != "preference":
                raise DatasetError(f"{example.source}: objective {objective} trains preference records (prompt, chosen, rejected)")
            row = {
                "prompt": prompt,
                "chosen": template_turns(list(data["chosen"])),
                "rejected": template_turns(list(data["rejected"])),
            }
        if with_tools:
            row["tools"] = example.tools or []
        rows.append(row)
    return rows


def _trl_classes(objective: str) -> tuple[type, type]:
    if objective == "dpo":
        from trl import DPOConfig, DPOTrainer

        return DPOConfig, DPOTrainer
    if objective == "kto":
        from trl import KTOConfig, KTOTrainer

        return KTOConfig, KTOTrainer
    if objective == "orpo":
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        return ORPOConfig, ORPOTrainer
    raise DatasetError(f"objective {objective} is not a preference objective (dpo, orpo, kto)")


def _safetensors_subclass(base: type) -> type:
    """TRL's trainer with train.py's safetensors checkpoints, token counting and OOM test hook."""
    import os

    import torch

    from .hf_trainer import SafetensorsTrainer as safetensors_trainer
    from .train import FORCE_OOM_ENV

    def training_step(self: Any, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
        if self.force_oom_at_step is not None and self.state.global_step + 1 >= self.force_oom_at_step:
            raise torch.OutOfMemoryError(f"CUDA out of memory (forced at step {self.force_oom_at_step} by the test hook {FORCE_OOM_ENV})")
        masks = [value for key, value in inputs.items() if key.endswith("attention_mask") and hasattr(value, "sum")]
        ids = [value for key, value in inputs.items() if key.endswith("input_ids") and hasattr(value, "shape")]
        self.tokens_seen += sum(int(mask.sum()) for mask in masks) if masks else sum(int(value.numel()) for value in ids)
        self.samples_seen += int(ids[0].shape[0]) if ids else 0
        return base.training_step(self, model, inputs, num_items_in_batch)

    namespace: dict[str, Any] = {name: safetensors_trainer.__dict__[name] for name in _SAFETENSORS_METHODS}
    namespace.update(training_step=training_step, tokens_seen=0, samples_seen=0, force_oom_at_step=None)
    subclass = type(f"Safetensors{base.__name__}", (base,), namespace)
    forced = os.environ.get(FORCE_OOM_ENV)
    subclass.force_oom_at_step = int(forced) if forced else None
    return subclass


def train_preference(
    job: PreparedJob,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    resume: bool,
    max_steps: int | None,
    events: EventWriter,
    cancel: CancelState,
) -> int:
    from datasets import Dataset

    from .checkpoints import newest_complete_checkpoint
    from .events import note
    from .hf_trainer import JobEventsCallback, train_reporting_oom
    from .train import _end_of_run, _load_base_model, _lora_config, _training_argument_values

    config, tokenizer = job.config, job.tokenizer
    training = config.training
    objective = str(config.data["objective"])
    config_class, trainer_base = _trl_classes(objective)
    # TRL renders conversational rows with the tokenizer's template: make it the one sft would use.
    template = job.chat_template or (None if has_chat_template(tokenizer) else fallback_template())
    if template is not None:
        tokenizer.chat_template = template
    inline = not renders_reasoning(tokenizer, None)
    train_rows = preference_rows(train_examples, objective, inline)
    eval_rows = preference_rows(eval_examples, objective, inline)
    if not train_rows:
        raise DatasetError("no preference records to train on")

    resume_from = None
    if resume:
        resume_from = newest_complete_checkpoint(config.output_dir / "checkpoints")
        if resume_from is None:
            note("--resume: no complete checkpoint found, starting from step 0")
    steps_limit = max_steps if max_steps is not None else training.get("max_steps")
    values = _training_argument_values(config, job.precision, steps_limit, bool(eval_rows), job.cuda)
    values["gradient_checkpointing"] = bool(training["gradient_checkpointing"])
    args = config_class(**values, beta=float(training.get("beta", DEFAULT_BETA)), max_length=int(training["max_seq_length"]))

    model = _load_base_model(config, job.source, job.precision, job.cuda)
    start_fields = {
        "model": config.base_model,
        "method": config.method,
        "objective": objective,
        "reference_model": None if objective == "orpo" else "base model with the adapter disabled",
        "device": args.device.type,
        "precision": job.precision,
        "train_records": len(train_rows),
        "eval_records": len(eval_rows),
        "output_dir": str(config.output_dir),
        "resumed_from": str(resume_from) if resume_from is not None else None,
    }
    trainer_class = _safetensors_subclass(trainer_base)
    try:
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            processing_class=tokenizer,
            peft_config=_lora_config(config),
        )
    except ValueError as exc:  # TRL refuses a setting it cannot train (e.g. LoRA on lm_head): the config's problem
        raise ConfigError(f"objective {objective}: {exc}") from exc
    trainable, total = trainer.model.get_nb_trainable_parameters()
    start_fields.update(trainable_params=int(trainable), total_params=int(total))
    callback = JobEventsCallback.attach(trainer, events, cancel, start_fields)

    started = time.time()
    output = train_reporting_oom(trainer, resume_from)
    cancelled = cancel.requested.is_set()
    if not cancelled and eval_rows and callback.last_eval_step != trainer.state.global_step:
        trainer.evaluate()
    return _end_of_run(
        job, config, trainer, trainer.model, tokenizer, events, cancel, cancelled, callback, output, started,
        objective=objective,
    )
