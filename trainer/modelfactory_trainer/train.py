"""`train CONFIG`: one LoRA/QLoRA job, progress as JSON events on stdout.

Built on transformers' Trainer (it brings DDP under torchrun / accelerate launch, accumulation, mixed
precision and schedulers). Its checkpoint format is replaced where it would pickle: optimizer, scheduler,
scaler and RNG state are written as safetensors + JSON, and training_args.bin is not written at all.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoints import (
    ADAPTER_WEIGHTS,
    SHA256_MANIFEST,
    finalize_adapter_dir,
    newest_complete_checkpoint,
)
from .config import FinetuneConfig, load_config
from .data import (
    IGNORE_INDEX,
    encode_example,
    fallback_template,
    has_chat_template,
    load_examples,
    resolve_chat_template,
    split_train_eval,
)
from .errors import BitsAndBytesMissingError, ConfigError, CudaUnavailableError, DatasetError, TrainerError
from .events import EventWriter, is_main_process, note
from .models import ADAPTER_CHAT_TEMPLATE
from .trackers import report_targets, tensorboard_dir

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_CANCELLED = 130
FORCE_OOM_ENV = "MODELFACTORY_TEST_FORCE_OOM_AT_STEP"
CANCEL_GRACE_ENV = "MODELFACTORY_CANCEL_GRACE_SECONDS"
DEFAULT_CANCEL_GRACE_SECONDS = 30.0


@dataclass
class CancelState:
    """Set by SIGINT/SIGTERM; the training loop stops at the next optimizer-step boundary."""

    requested: threading.Event = field(default_factory=threading.Event)
    adapter_dir: Path | None = None
    step: int = 0
    deadline: threading.Timer | None = None


def _install_cancel_handlers(cancel: CancelState, events: EventWriter, grace_seconds: float) -> None:
    def give_up() -> None:
        # Past the grace period (or on a second signal) leave at once; the adapter folder only ever
        # appears by rename, so it is complete or absent whenever this runs.
        adapter = cancel.adapter_dir
        complete = adapter is not None and (adapter / SHA256_MANIFEST).is_file()
        events.emit("cancelled", step=cancel.step, adapter_dir=str(adapter) if complete else None)
        os._exit(EXIT_CANCELLED)

    def on_signal(signum: int, _frame: Any) -> None:
        if cancel.requested.is_set():
            give_up()
        cancel.requested.set()
        note(f"received {signal.Signals(signum).name}: stopping at the next step (grace {grace_seconds:g}s)")
        cancel.deadline = threading.Timer(grace_seconds, give_up)
        cancel.deadline.daemon = True
        cancel.deadline.start()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


@dataclass(frozen=True)
class PreparedJob:
    """Everything settled before the model loads: config, model source, precision, tokenised records."""

    config: FinetuneConfig
    source: str
    precision: str
    cuda: bool
    tokenizer: Any
    train_set: list[dict[str, list[int]]]
    eval_set: list[dict[str, list[int]]]
    # The config's chat template (its text), or None for the model's own (else the fallback).
    chat_template: str | None = None
    # Every record and the held-out ones, for record-loss.jsonl at the end of the run.
    examples: tuple[Any, ...] = ()
    eval_examples: tuple[Any, ...] = ()


def _pick_precision(requested: str, cuda: bool) -> str:
    import torch

    if not cuda:
        if requested != "fp32":
            note(f"no CUDA device: training in fp32 instead of {requested}")
        return "fp32"
    if requested == "bf16" and not torch.cuda.is_bf16_supported():
        note("this GPU has no bf16 support: training in fp16 instead")
        return "fp16"
    return requested


def _check_qlora_requirements(cuda: bool) -> None:
    if not cuda:
        raise CudaUnavailableError("method qlora quantizes the model with bitsandbytes, which needs a CUDA GPU; use method: lora on this machine")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BitsAndBytesMissingError("method qlora needs the bitsandbytes package: pip install bitsandbytes")


def _build_model(config: FinetuneConfig, source: str, precision: str, cuda: bool) -> Any:
    from peft import get_peft_model

    model = _load_base_model(config, source, precision, cuda)
    try:
        return get_peft_model(model, _lora_config(config))
    except ValueError as exc:
        raise ConfigError(f"$.lora.target_modules: {exc}") from exc


def _lora_config(config: FinetuneConfig) -> Any:
    from peft import LoraConfig

    lora = config.lora
    return LoraConfig(
        r=int(lora["r"]),
        lora_alpha=float(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=lora["target_modules"],
        bias="none",
        task_type="CAUSAL_LM",
    )


def _load_base_model(config: FinetuneConfig, source: str, precision: str, cuda: bool) -> Any:
    """The frozen base model (4-bit for qlora), ready for a LoRA adapter."""
    import torch
    from peft import prepare_model_for_kbit_training

    from .models import load_causal_lm

    compute_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    trust = bool(config.data["trust_remote_code"])
    gradient_checkpointing = bool(config.training["gradient_checkpointing"])
    quantization = config.quantization
    if config.method == "qlora" and quantization is not None:
        from transformers import BitsAndBytesConfig

        bnb = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quantization["type"],
            bnb_4bit_use_double_quant=bool(quantization["double_quant"]),
            bnb_4bit_compute_dtype=compute_dtype,
        )
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        model = load_causal_lm(source, trust, quantization_config=bnb, dtype=compute_dtype, device_map={"": local_rank})
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif cuda:
        # Frozen base weights in the compute dtype, loaded straight onto this process's GPU; the
        # adapters themselves train in fp32 (peft's default).
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        model = load_causal_lm(source, trust, dtype=compute_dtype, device_map={"": local_rank})
    else:
        model = load_causal_lm(source, trust, dtype=torch.float32)
    model.config.use_cache = False
    return model


def _pad_batch(pad_token_id: int) -> Any:
    def collate(features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(feature["input_ids"]) for feature in features)

        def padded(key: str, fill: int) -> Any:
            return torch.tensor([feature[key] + [fill] * (width - len(feature[key])) for feature in features])

        return {
            "input_ids": padded("input_ids", pad_token_id),
            "labels": padded("labels", IGNORE_INDEX),
            "attention_mask": padded("attention_mask", 0),
        }

    return collate


def _oom_advice(config: FinetuneConfig) -> list[str]:
    training = config.training
    batch, accumulation, length = training["batch_size"], training["gradient_accumulation_steps"], training["max_seq_length"]
    advice = []
    if batch > 1:
        advice.append(
            f"Halve training.batch_size to {batch // 2} and double training.gradient_accumulation_steps to "
            f"{accumulation * 2}: the same effective batch in less memory."
        )
    if not training["gradient_checkpointing"]:
        advice.append("Turn on training.gradient_checkpointing: activations are recomputed instead of stored.")
    if config.method == "lora":
        advice.append("Use method: qlora: 4-bit base weights take about a quarter of the memory.")
    if length > 256:
        advice.append(f"Shorten training.max_seq_length to {length // 2}: activation memory grows with it.")
    if not advice:
        advice.append("Use a GPU with more memory or a smaller base model.")
    return advice


def _memory_numbers() -> dict[str, float | None]:
    import torch

    if not torch.cuda.is_available():
        return {"allocated_gb": None, "reserved_gb": None, "total_gb": None}
    gib = float(1 << 30)
    return {
        "allocated_gb": torch.cuda.memory_allocated() / gib,
        "reserved_gb": torch.cuda.memory_reserved() / gib,
        "total_gb": torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory / gib,
    }


def _training_arguments(config: FinetuneConfig, precision: str, max_steps: int | None, has_eval: bool, cuda: bool) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(**_training_argument_values(config, precision, max_steps, has_eval, cuda))


def _training_argument_values(config: FinetuneConfig, precision: str, max_steps: int | None, has_eval: bool, cuda: bool) -> dict[str, Any]:
    """The config as TrainingArguments keywords (TRL's preference configs take the same)."""
    training = config.training
    evaluation: dict[str, Any] = {"eval_strategy": "no"}
    if has_eval:
        evaluation = (
            {"eval_strategy": "steps", "eval_steps": training["eval_steps"]}
            if "eval_steps" in training
            else {"eval_strategy": "epoch"}
        )
    saving = (
        {"save_strategy": "steps", "save_steps": training["save_steps"]}
        if "save_steps" in training
        else {"save_strategy": "epoch"}
    )
    return dict(
        output_dir=str(config.output_dir / "checkpoints"),
        per_device_train_batch_size=int(training["batch_size"]),
        per_device_eval_batch_size=int(training["batch_size"]),
        gradient_accumulation_steps=int(training["gradient_accumulation_steps"]),
        num_train_epochs=float(training["epochs"]),
        max_steps=max_steps if max_steps is not None else -1,
        learning_rate=float(training["learning_rate"]),
        lr_scheduler_type=training["lr_scheduler"],
        warmup_steps=float(training["warmup_ratio"]),
        weight_decay=float(training["weight_decay"]),
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        activation_checkpointing=bool(training["gradient_checkpointing"]),
        activation_checkpointing_kwargs={"use_reentrant": False},
        seed=int(training["seed"]),
        data_seed=int(training["seed"]),
        logging_steps=int(training["logging_steps"]),
        logging_first_step=True,
        save_total_limit=3,
        report_to=report_targets(config),
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
        use_cpu=not cuda,
        **evaluation,
        **saving,
    )


def _tokenize_all(
    tokenizer: Any, examples: list[Any], max_seq_length: int, chat_template: str | None
) -> list[dict[str, list[int]]]:
    encoded = [encode_example(tokenizer, example, max_seq_length, chat_template) for example in examples]
    kept = [item for item in encoded if item is not None]
    if len(kept) < len(encoded):
        note(f"{len(encoded) - len(kept)} record(s) have no trainable tokens within max_seq_length and were skipped")
    return kept


def run_training(config_path: str, resume: bool, max_steps: int | None, events: EventWriter) -> int:
    """The whole job; returns the process exit code. Only typed events reach stdout."""
    cancel = CancelState()
    grace = float(os.environ.get(CANCEL_GRACE_ENV, DEFAULT_CANCEL_GRACE_SECONDS))
    if threading.current_thread() is threading.main_thread():
        _install_cancel_handlers(cancel, events, grace)
    try:
        return _run(config_path, resume, max_steps, events, cancel)
    except TrainerError as exc:
        events.emit("error", code=exc.code, message=exc.message)
        return EXIT_FAILED
    except Exception as exc:  # the contract promises a typed event, never a bare traceback
        traceback.print_exc(file=sys.stderr)
        events.emit("error", code="internal", message=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED


def _run(config_path: str, resume: bool, max_steps: int | None, events: EventWriter, cancel: CancelState) -> int:
    config = load_config(config_path)
    report_targets(config)  # a tracker whose package is missing fails before any download
    examples = load_examples(config)
    training = config.training

    import torch

    from .hub_download import model_source
    from .models import load_tokenizer

    cuda = torch.cuda.is_available()
    if config.method == "qlora":
        _check_qlora_requirements(cuda)
    precision = _pick_precision(str(training["precision"]), cuda)
    fetched = model_source(config.base_model, config.data.get("revision"), events.emit, cancel.requested)
    if fetched is None:
        # Cancelled while downloading: the partial blob stays in the cache for the next run to continue.
        if cancel.deadline is not None:
            cancel.deadline.cancel()
        events.emit("cancelled", step=0, adapter_dir=None)
        return EXIT_CANCELLED
    source = fetched
    tokenizer = load_tokenizer(source, bool(config.data["trust_remote_code"]))

    train_examples, eval_examples = split_train_eval(examples, float(config.dataset["eval_split"]), int(training["seed"]))
    max_seq_length = int(training["max_seq_length"])
    chat_template = resolve_chat_template(config.data.get("chat_template"), config.path.parent)
    # Preference objectives (dpo, orpo, kto) hand the examples to TRL, which tokenizes them itself.
    preference = str(config.data.get("objective", "sft")) != "sft"
    train_set = [] if preference else _tokenize_all(tokenizer, train_examples, max_seq_length, chat_template)
    eval_set = [] if preference else _tokenize_all(tokenizer, eval_examples, max_seq_length, chat_template)
    if not train_set and not preference:
        raise DatasetError(f"no record has a trainable token within max_seq_length ({max_seq_length})")
    # The seed reaches the LoRA initialisation too (the model is built before the Trainer seeds itself), so a run
    # is repeatable: the same config and data give the same adapter on the same machine.
    from transformers import set_seed

    set_seed(int(training["seed"]))
    from .hf_trainer import OomDuringTraining

    try:
        job = PreparedJob(
            config, source, precision, cuda, tokenizer, train_set, eval_set, chat_template, tuple(examples), tuple(eval_examples)
        )
        if preference:
            from .preference import train_preference

            return train_preference(job, train_examples, eval_examples, resume, max_steps, events, cancel)
        return _train(job, resume, max_steps, events, cancel)
    except (torch.OutOfMemoryError, OomDuringTraining) as exc:
        events.emit(
            "oom",
            # OomDuringTraining: in Trainer.train, at a step; an OOM while the model loads has none.
            step=exc.step if isinstance(exc, OomDuringTraining) else None,
            message=str(exc).splitlines()[0] if str(exc) else "CUDA out of memory",
            batch_size=int(training["batch_size"]),
            max_seq_length=max_seq_length,
            advice=_oom_advice(config),
            **_memory_numbers(),
        )
        return EXIT_FAILED


def _train(
    job: PreparedJob,
    resume: bool,
    max_steps: int | None,
    events: EventWriter,
    cancel: CancelState,
) -> int:
    """Model, Trainer, the loop and the final adapter; a CUDA OOM anywhere in here becomes an `oom` event."""
    from .hf_trainer import JobEventsCallback, SafetensorsTrainer, train_reporting_oom

    config, source, precision, cuda = job.config, job.source, job.precision, job.cuda
    tokenizer, train_set, eval_set = job.tokenizer, job.train_set, job.eval_set
    training = config.training
    model = _build_model(config, source, precision, cuda)

    resume_from = None
    if resume:
        resume_from = newest_complete_checkpoint(config.output_dir / "checkpoints")
        if resume_from is None:
            note("--resume: no complete checkpoint found, starting from step 0")
    steps_limit = max_steps if max_steps is not None else training.get("max_steps")
    args = _training_arguments(config, precision, steps_limit, bool(eval_set), cuda)

    trainable, total = model.get_nb_trainable_parameters()
    start_fields = {
        "model": config.base_model,
        "method": config.method,
        "device": args.device.type,
        "precision": precision,
        "train_records": len(train_set),
        "eval_records": len(eval_set),
        "trainable_params": int(trainable),
        "total_params": int(total),
        "output_dir": str(config.output_dir),
        "resumed_from": str(resume_from) if resume_from is not None else None,
        "tensorboard_dir": str(tensorboard) if (tensorboard := tensorboard_dir(config)) is not None else None,
    }
    if training["packing"]:
        from transformers import DataCollatorWithFlattening

        collator: Any = DataCollatorWithFlattening()
    else:
        collator = _pad_batch(int(tokenizer.pad_token_id))
    trainer = SafetensorsTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set or None,
        data_collator=collator,
        processing_class=tokenizer,
    )
    callback = JobEventsCallback.attach(trainer, events, cancel, start_fields)
    forced = os.environ.get(FORCE_OOM_ENV)
    trainer.force_oom_at_step = int(forced) if forced else None

    started = time.time()
    output = train_reporting_oom(trainer, resume_from)

    cancelled = cancel.requested.is_set()
    if not cancelled and eval_set and callback.last_eval_step != trainer.state.global_step:
        trainer.evaluate()
    return _end_of_run(job, config, trainer, model, tokenizer, events, cancel, cancelled, callback, output, started)


def _end_of_run(
    job: Any,
    config: Any,
    trainer: Any,
    model: Any,
    tokenizer: Any,
    events: EventWriter,
    cancel: CancelState,
    cancelled: bool,
    callback: Any,
    output: Any,
    started: float,
    **done_fields: Any,
) -> int:
    """After `trainer.train()`, for every objective: the adapter (atomic, with its template), the Datanet
    attribution, each record's loss, then `cancelled` or `done`."""
    steps = int(trainer.state.global_step)
    adapter_dir = config.output_dir / "adapter"
    files: dict[str, str] = {}
    record_loss = None
    if trainer.is_world_process_zero():
        files = _write_adapter(config, model, tokenizer, job.chat_template, adapter_dir)
        if config.datanet_version is not None:
            from .datanet_pull import pull_version, write_attribution

            write_attribution(config.output_dir, config.datanet_version, pull_version(config.datanet_version)[1])
        cancel.adapter_dir = adapter_dir
        record_loss = _record_loss_at_end(job, model, cancelled)
    if cancelled:
        if cancel.deadline is not None:
            cancel.deadline.cancel()
        events.emit("cancelled", step=steps, adapter_dir=str(adapter_dir) if files else None)
        return EXIT_CANCELLED
    events.emit(
        "done",
        adapter_dir=str(adapter_dir),
        sha256=files.get(ADAPTER_WEIGHTS, ""),
        files=files,
        train_loss=callback.train_loss if callback.train_loss is not None else float(output.training_loss),
        eval_loss=callback.last_eval_loss,
        runtime_seconds=time.time() - started,
        steps=steps,
        **done_fields,
        record_loss=record_loss,
    )
    return EXIT_DONE


def _record_loss_at_end(job: PreparedJob, model: Any, cancelled: bool) -> str | None:
    """record-loss.jsonl beside the adapter (record_loss.py), unless the run was cancelled or it is switched off."""
    if cancelled or not job.config.training.get("record_loss", True) or not job.examples:
        return None
    from .record_loss import at_end_of_run

    return at_end_of_run(model, job, job.examples, job.eval_examples)


def _write_adapter(config: FinetuneConfig, model: Any, tokenizer: Any, chat_template: str | None, adapter_dir: Path) -> dict[str, str]:
    """The adapter, its tokenizer and chat template, written atomically with a sha256 manifest."""
    staging = config.output_dir / f".adapter.tmp-{os.getpid()}"
    model.save_pretrained(str(staging), safe_serialization=True)
    # The template the records were rendered with travels with the adapter (chat_template.jinja, in the
    # sha256 manifest), so chat prompts the adapter as it was trained. With the model's own template,
    # the tokenizer saves that one.
    trained_template = chat_template or (None if has_chat_template(tokenizer) else fallback_template())
    if trained_template is not None:
        tokenizer.chat_template = trained_template
    tokenizer.save_pretrained(str(staging))
    if trained_template is not None:
        (staging / ADAPTER_CHAT_TEMPLATE).write_text(trained_template, encoding="utf-8")
    return finalize_adapter_dir(staging, adapter_dir)


def preference_log_fields(logs: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """TRL's reward metrics (rewards/margins, rewards/accuracies, rewards/chosen, rewards/rejected) as event
    keys reward_margin, reward_accuracy, reward_chosen, reward_rejected; KTO logs no margin, so it is
    chosen minus rejected there."""
    names = {"rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy", "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected"}
    fields = {prefix + ours: float(logs[theirs]) for theirs, ours in names.items() if isinstance(logs.get(theirs), (int, float))}
    if prefix + "reward_margin" not in fields and prefix + "reward_chosen" in fields and prefix + "reward_rejected" in fields:
        fields[prefix + "reward_margin"] = fields[prefix + "reward_chosen"] - fields[prefix + "reward_rejected"]
    return fields


def train_command(config_path: str, resume: bool, max_steps: int | None) -> int:
    # Libraries sometimes print to stdout; the event stream must stay pure JSON lines.
    events = EventWriter(stream=sys.stdout, enabled=is_main_process())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        return run_training(config_path, resume, max_steps, events)
    finally:
        sys.stdout = real_stdout
        _leave_process_group()


def _leave_process_group() -> None:
    """Under torchrun, a rank that exits with its process group still up can abort in the group's thread
    destructors ("terminate called without an active exception", seen on a loaded 2-core machine), which
    fails the whole launch after a good run. Leave the group first."""
    if "torch" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception as exc:  # a broken group at exit must not turn a finished job into a failure
            note(f"leaving the process group: {type(exc).__name__}: {exc}")
