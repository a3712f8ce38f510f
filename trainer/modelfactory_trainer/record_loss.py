"""Each training record's loss under the trained adapter and under the base model: `record-loss.jsonl`.

One line per record of the job's dataset (train and eval split alike), in file order:
    {"file", "line", "sha256", "loss", "base_loss", "tokens", "split"}
`sha256` is of the record's line as it stands in the file (UTF-8, without its line break), so the
language server shows a figure only while the line is unchanged. `loss` is the mean cross-entropy of the
tokens the record trains (a conversation's trained assistant turns, a preference pair's chosen answer, a
KTO completion, a text record's every token) under the adapter; `base_loss` the same with the adapter
disabled. A record the model still finds hard after training (high loss, little below its base loss) is
the one to read first: often a wrong or mislabelled answer.

Written at the end of every run (`<output_dir>/record-loss.jsonl`, beside the adapter folder) and by
`python -m modelfactory_trainer record-loss CONFIG --adapter DIR`. JSON-array datasets have no line per
record: their records are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from .data import Example, encode_example
from .errors import TrainerError
from .events import EventWriter, note

RECORD_LOSS_FILE = "record-loss.jsonl"
_LINE_SOURCE = re.compile(r"^(?P<file>.*):(?P<line>\d+)$")


def _scored_example(example: Example) -> Example:
    """The record as the sft example whose trained tokens are its answer."""
    data = example.example
    if example.kind == "preference":
        return Example(example.source, {"kind": "sft", "messages": list(data["messages"]) + list(data["chosen"]), **_tools(data)})
    if example.kind == "kto":
        return Example(example.source, {"kind": "sft", "messages": list(data["messages"]) + list(data["completion"]), **_tools(data)})
    return example


def _tools(data: dict[str, Any]) -> dict[str, Any]:
    return {"tools": data["tools"]} if data.get("tools") else {}


def line_hashes(path: Path, wanted: set[int]) -> dict[int, str]:
    """sha256 of the given 1-based lines of a file, as written (without the line break; a BOM on line 1 dropped)."""
    hashes: dict[int, str] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in wanted:
                text = raw.rstrip(b"\r\n")
                if number == 1 and text.startswith(b"\xef\xbb\xbf"):
                    text = text[3:]
                hashes[number] = hashlib.sha256(text).hexdigest()
    return hashes


def _mean_loss(model: Any, encoded: dict[str, list[int]]) -> float | None:
    import torch

    device = model.device
    output = model(
        input_ids=torch.tensor([encoded["input_ids"]], device=device),
        attention_mask=torch.tensor([encoded["attention_mask"]], device=device),
        labels=torch.tensor([encoded["labels"]], device=device),
    )
    value = float(output.loss)
    return value if math.isfinite(value) else None


def record_losses(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    chat_template: str | None,
    max_seq_length: int,
    eval_sources: set[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """The rows of record-loss.jsonl for the JSONL records among `examples`; `model` is a PeftModel."""
    import torch

    located: list[tuple[Example, str, int]] = []
    for example in examples:
        match = _LINE_SOURCE.match(example.source)
        if match is not None:
            located.append((example, match.group("file"), int(match.group("line"))))
    hashes: dict[str, dict[int, str]] = {}
    for file in sorted({file for _, file, _ in located}):
        hashes[file] = line_hashes(Path(file), {line for _, f, line in located if f == file})
    was_training = model.training
    model.eval()
    rows: list[dict[str, Any]] = []
    try:
        with torch.inference_mode():
            for done, (example, file, line) in enumerate(located, start=1):
                encoded = encode_example(tokenizer, _scored_example(example), max_seq_length, chat_template)
                if encoded is None:
                    continue
                loss = _mean_loss(model, encoded)
                with model.disable_adapter():
                    base_loss = _mean_loss(model, encoded)
                rows.append(
                    {
                        "file": file,
                        "line": line,
                        "sha256": hashes[file].get(line, ""),
                        "loss": loss,
                        "base_loss": base_loss,
                        "tokens": sum(1 for label in encoded["labels"] if label != -100),
                        "split": "eval" if eval_sources and example.source in eval_sources else "train",
                    }
                )
                if on_progress is not None:
                    on_progress(done, len(located))
    finally:
        if was_training:
            model.train()
    return rows


def write_record_loss(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Written beside, then renamed into place: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(staging, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
    os.replace(staging, path)
    return path


def record_loss_command(args: argparse.Namespace) -> int:
    """`record-loss CONFIG --adapter DIR`: the file for an adapter trained before (or elsewhere)."""
    events = EventWriter(stream=sys.stdout, enabled=bool(args.events))
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        import torch
        from peft import PeftModel

        from .config import load_config
        from .data import load_examples, resolve_chat_template, split_train_eval
        from .models import adapter_chat_template, check_adapter_dir, load_causal_lm, load_tokenizer, resolve_model_source

        config = load_config(args.config)
        examples = load_examples(config)
        _, eval_examples = split_train_eval(examples, float(config.dataset["eval_split"]), int(config.training["seed"]))
        adapter = check_adapter_dir(args.adapter)
        trust = bool(config.data["trust_remote_code"])
        source = resolve_model_source(config.base_model)
        tokenizer = load_tokenizer(source, trust)
        template = adapter_chat_template(adapter) or resolve_chat_template(config.data.get("chat_template"), config.path.parent)
        cuda = torch.cuda.is_available()
        model = load_causal_lm(source, trust, dtype=torch.bfloat16 if cuda else torch.float32)
        if cuda:
            model = model.to("cuda")
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False, use_safetensors=True)
        events.emit("start", records=len(examples), adapter=str(adapter))
        rows = record_losses(
            model,
            tokenizer,
            examples,
            template,
            int(config.training["max_seq_length"]),
            {example.source for example in eval_examples},
            lambda done, total: events.emit("progress", done=done, total=total) if done % 50 == 0 or done == total else None,
        )
        out = Path(args.out).resolve() if args.out else adapter.parent / RECORD_LOSS_FILE
        write_record_loss(out, rows)
    except TrainerError as exc:
        events.emit("error", code=exc.code, message=exc.message)
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        events.emit("error", code="internal", message=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        sys.stdout = real_stdout
    events.emit("done", path=str(out), records=len(rows))
    if not args.events:
        hardest = sorted((row for row in rows if row["loss"] is not None), key=lambda row: -row["loss"])[:5]
        print(f"{len(rows)} record(s) scored: {out}")
        for row in hardest:
            print(f"  {row['file']}:{row['line']}  loss {row['loss']:.3f} (base {row['base_loss']:.3f})")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the *.finetune.yaml the adapter was trained with")
    parser.add_argument("--adapter", required=True, help="the adapter folder")
    parser.add_argument("--out", default=None, help=f"where to write (default: {RECORD_LOSS_FILE} beside the adapter folder)")
    parser.add_argument("--events", action="store_true", help="JSON-lines progress events on stdout")


def at_end_of_run(model: Any, job: Any, examples: Sequence[Example], eval_examples: Sequence[Example]) -> str | None:
    """Called by train once the adapter is written; a failure here is noted, never the run's failure."""
    try:
        rows = record_losses(
            model,
            job.tokenizer,
            examples,
            job.chat_template,
            int(job.config.training["max_seq_length"]),
            {example.source for example in eval_examples},
        )
        path = write_record_loss(job.config.output_dir / RECORD_LOSS_FILE, rows)
        return str(path)
    except Exception as exc:  # the adapter is already safe; the per-record figures are a bonus
        note(f"record-loss.jsonl not written: {type(exc).__name__}: {exc}")
        return None

