"""`eval CONFIG`: answer a held-out set with the base model and each adapter, and score every answer.

The held-out set is the config's eval split (the same seeded split training made) or a file given with
`--data` in any record format the contract reads (records.py). Every example is prompted with the chat
template training used (an adapter's own `chat_template.jinja`, else the config's `chat_template`, else
the model's), answered greedily, and scored against its reference answer (the last trained assistant turn,
a preference record's chosen answer, a desirable KTO completion):

- loss: the mean cross-entropy of the reference answer's tokens under the model (teacher-forced);
- exact_match: the answer equals the reference (surrounding whitespace ignored);
- rouge_l: ROUGE-L F1 (`rouge-score`); bleu: sentence BLEU per example, corpus BLEU in the summary
  (`sacrebleu`, 0-100);
- judge (optional): a 1-10 score from an LLM judge with a rubric, through any OpenAI-compatible endpoint.

Models behind OpenAI-compatible endpoints answer too with `--endpoint URL --model NAME [--api-key-env VAR]`
(eval_endpoints.py; `--endpoints-only` loads no local model): scored the same way, with a null loss and a
`loss_note` saying why (an endpoint gives no token probabilities for the reference).

Writes `results.jsonl` (one line per example and model, written as it goes) and `summary.json` to the
output folder (default `<output_dir>/eval`). `--json` prints the summary; `--events` prints JSON-lines
progress events (eval_start, progress, eval_done / error / cancelled) as `train` does, for the job server.
SIGINT/SIGTERM stop at the next token; what was written stays.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, DatasetError, TrainerError
from .eval_endpoints import LOSS_NOTE, EndpointModel, EndpointTarget, add_endpoint_arguments, endpoint_targets
from .events import EventWriter, note
from .judge import JUDGE_KEY_ENV, ask_judge, judge_client

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_CANCELLED = 130
MAX_DATA_BYTES = 256 << 20
_LOCATION = re.compile(r"^(?P<file>.*?)(?::(?P<line>\d+)|\[(?P<index>\d+)\])$")


class Cancelled(Exception):
    """SIGINT/SIGTERM arrived; the run stops where it is."""


@dataclass(frozen=True)
class HeldOut:
    """One example to answer: the prompt turns, the reference answer, where the record lives."""

    index: int
    source: str
    prompt: list[dict[str, Any]]
    reference: str
    tools: list[dict[str, Any]] | None

    def location(self) -> dict[str, Any]:
        match = _LOCATION.match(self.source)
        if match is None:
            return {"file": self.source, "line": None}
        line = match.group("line")
        index = match.group("index")
        return {
            "file": match.group("file"),
            "line": int(line) if line else None,
            **({"index": int(index)} if index else {}),
        }


def _answer_text(turns: list[dict[str, Any]]) -> str | None:
    """The content of the last assistant turn of an answer."""
    for turn in reversed(turns):
        if turn.get("role") == "assistant" and isinstance(turn.get("content"), str):
            return str(turn["content"])
    return None


def held_out_of(index: int, source: str, example: dict[str, Any]) -> HeldOut | None:
    """An example as a prompt and a reference; None when it has no answer to compare (text, an undesirable
    KTO completion, a conversation with no trained assistant turn)."""
    kind = example.get("kind", "sft")
    turns = list(example.get("messages", []))
    tools = example.get("tools")
    if kind == "sft":
        for position in range(len(turns) - 1, -1, -1):
            turn = turns[position]
            if turn.get("role") == "assistant" and turn.get("train", True) and not turn.get("tool_calls"):
                return HeldOut(index, source, turns[:position], str(turn["content"]), tools)
        return None
    if kind == "preference":
        reference = _answer_text(list(example.get("chosen", [])))
        return HeldOut(index, source, turns, reference, tools) if reference is not None else None
    if kind == "kto" and example.get("label") is True:
        reference = _answer_text(list(example.get("completion", [])))
        return HeldOut(index, source, turns, reference, tools) if reference is not None else None
    return None


def load_held_out(config: Any, data_file: Path | None) -> tuple[list[HeldOut], int]:
    """The examples to evaluate and how many records were left out for having no reference answer."""
    from .data import load_examples, normalise, read_records, split_train_eval

    if data_file is not None:
        if not data_file.is_file():
            raise DatasetError(f"{data_file}: not a regular file")
        if data_file.stat().st_size > MAX_DATA_BYTES:
            raise DatasetError(f"{data_file}: larger than {MAX_DATA_BYTES >> 20} MiB; evaluate a smaller held-out file")
        examples = [normalise(record, "auto", where) for where, record in read_records(data_file)]
    else:
        split = float(config.dataset["eval_split"])
        if split <= 0:
            raise ConfigError(
                "$.dataset.eval_split: the config holds out no records (eval_split 0); set eval_split or pass --data FILE"
            )
        _, examples = split_train_eval(load_examples(config), split, int(config.training["seed"]))
    held: list[HeldOut] = []
    for example in examples:
        item = held_out_of(len(held), example.source, example.example)
        if item is not None:
            held.append(item)
    if not held:
        raise DatasetError("no held-out record has a reference answer (an assistant turn, a chosen answer or a desirable completion)")
    return held, len(examples) - len(held)


class Scorer:
    """ROUGE-L and BLEU from the maintained libraries."""

    def __init__(self) -> None:
        from rouge_score import rouge_scorer

        self._rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

    def rouge_l(self, answer: str, reference: str) -> float:
        return float(self._rouge.score(reference, answer)["rougeL"].fmeasure)

    @staticmethod
    def bleu(answer: str, reference: str) -> float:
        import sacrebleu

        return float(sacrebleu.sentence_bleu(answer, [reference]).score)

    @staticmethod
    def corpus_bleu(answers: list[str], references: list[str]) -> float:
        import sacrebleu

        return float(sacrebleu.corpus_bleu(answers, [references]).score)


@dataclass(frozen=True)
class JudgeSettings:
    url: str
    model: str
    rubric: str
    timeout: float = 60.0


class Judge:
    """An LLM judge through the official `openai` client (judge.py), grading against the reference answer."""

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings
        self.client = judge_client(settings.url, JUDGE_KEY_ENV, settings.timeout)

    def grade(self, prompt: list[dict[str, Any]], reference: str, answer: str) -> tuple[float | None, str]:
        return ask_judge(self.client, self.settings.model, self.settings.rubric, prompt, answer, reference)


class Models:
    """The base model with every adapter attached by PEFT; `use(None)` runs the base with adapters disabled."""

    def __init__(self, config: Any, adapters: list[Path]) -> None:
        import torch

        from .data import resolve_chat_template
        from .models import adapter_chat_template, check_adapter_dir, load_causal_lm, load_tokenizer, resolve_model_source

        trust = bool(config.data["trust_remote_code"])
        source = resolve_model_source(config.base_model)
        self.tokenizer = load_tokenizer(source, trust)
        self.training_template = resolve_chat_template(config.data.get("chat_template"), config.path.parent)
        self.cuda = torch.cuda.is_available()
        dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if self.cuda else torch.float32
        model = load_causal_lm(source, trust, dtype=dtype)
        if self.cuda:
            model = model.to("cuda")
        self.names: dict[str, str] = {}
        self.templates: dict[str, str | None] = {}
        for position, adapter in enumerate(adapters):
            from peft import PeftModel

            path = check_adapter_dir(adapter)
            name = f"adapter_{position}"
            if isinstance(model, PeftModel):
                model.load_adapter(str(path), adapter_name=name, is_trainable=False, use_safetensors=True)
            else:
                model = PeftModel.from_pretrained(model, str(path), adapter_name=name, is_trainable=False, use_safetensors=True)
            self.names[str(adapter)] = name
            self.templates[str(adapter)] = adapter_chat_template(path) or self.training_template
        model.eval()
        self.model = model

    def template(self, adapter: str | None) -> str | None:
        return self.training_template if adapter is None else self.templates[adapter]

    def context(self, adapter: str | None) -> Any:
        import contextlib

        from peft import PeftModel

        if not isinstance(self.model, PeftModel):
            return contextlib.nullcontext()
        if adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(self.names[adapter])
        return contextlib.nullcontext()

    def answer(self, item: HeldOut, adapter: str | None, max_new_tokens: int, cancel: threading.Event) -> str:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        from .data import render_chat

        tokenizer = self.tokenizer
        prompt = render_chat(tokenizer, item.prompt, True, item.tools, self.template(adapter))
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.model.device)

        class StopOnCancel(StoppingCriteria):  # type: ignore[misc]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        with torch.inference_mode(), self.context(adapter):
            sequences = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=StoppingCriteriaList([StopOnCancel()]),
            )
        if cancel.is_set():
            raise Cancelled()
        new_tokens = sequences[0, inputs["input_ids"].shape[1] :]
        return str(tokenizer.decode(new_tokens, skip_special_tokens=True)).strip()

    def reference_loss(self, item: HeldOut, adapter: str | None, max_seq_length: int) -> float | None:
        """Mean cross-entropy of the reference answer's tokens given the prompt (earlier answers not scored)."""
        import torch

        from .data import Example, encode_example

        turns = [dict(turn, train=False) if turn.get("role") == "assistant" else turn for turn in item.prompt]
        turns.append({"role": "assistant", "content": item.reference})
        example = Example(item.source, {"kind": "sft", "messages": turns, **({"tools": item.tools} if item.tools else {})})
        encoded = encode_example(self.tokenizer, example, max_seq_length, self.template(adapter))
        if encoded is None:
            return None
        device = self.model.device
        with torch.inference_mode(), self.context(adapter):
            output = self.model(
                input_ids=torch.tensor([encoded["input_ids"]], device=device),
                attention_mask=torch.tensor([encoded["attention_mask"]], device=device),
                labels=torch.tensor([encoded["labels"]], device=device),
            )
        value = float(output.loss)
        return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Contestant:
    """One model that answers every held-out example: the base, an adapter, or an endpoint's model."""

    name: str
    adapter: str | None
    answer: Callable[[HeldOut], str]
    loss: Callable[[HeldOut], float | None] | None  # None: the model cannot say (an endpoint)
    fields: dict[str, Any]  # more keys for its rows and summary entry (an endpoint's URL and model)


def _local_contestant(models: Models, key: str | None, name: str, max_new_tokens: int, max_seq_length: int,
                      cancel: threading.Event) -> Contestant:
    return Contestant(
        name=name,
        adapter=key,
        answer=lambda item: models.answer(item, key, max_new_tokens, cancel),
        loss=lambda item: models.reference_loss(item, key, max_seq_length),
        fields={},
    )


def _endpoint_contestant(endpoint: EndpointModel, taken: set[str], max_new_tokens: int, cancel: threading.Event) -> Contestant:
    target = endpoint.target
    name = target.model if target.model not in taken else f"{target.model}@{target.host}"
    suffix = 2
    while name in taken:
        name, suffix = f"{target.model}@{target.host}#{suffix}", suffix + 1
    taken.add(name)
    return Contestant(
        name=name,
        adapter=None,
        answer=lambda item: endpoint.answer(item.prompt, item.tools, max_new_tokens, cancel, Cancelled),
        loss=None,
        fields={"endpoint": target.url, "endpoint_model": target.model},
    )


def _mean(values: list[float | None]) -> float | None:
    kept = [value for value in values if value is not None]
    return sum(kept) / len(kept) if kept else None


def _model_name(adapter: str | None, adapters: list[str]) -> str:
    if adapter is None:
        return "base"
    path = Path(adapter)
    name = path.parent.name if path.name == "adapter" and path.parent.name else path.name
    names = [Path(a).parent.name if Path(a).name == "adapter" else Path(a).name for a in adapters]
    return name if names.count(name) == 1 else f"{name}#{adapters.index(adapter) + 1}"


def run_eval(
    config_path: str,
    adapters: list[str],
    data_file: str | None,
    out_dir: str | None,
    max_new_tokens: int,
    judge: JudgeSettings | None,
    emit: Callable[..., Any],
    cancel: threading.Event,
    endpoints: list[EndpointTarget] | None = None,
    local: bool = True,
) -> dict[str, Any]:
    """The whole evaluation; returns the summary (also written to summary.json). `endpoints` answer beside the
    base and adapters (or, with `local` False, instead of them)."""
    from .config import load_config

    config = load_config(config_path)
    held, left_out = load_held_out(config, Path(data_file).resolve() if data_file else None)
    adapter_paths = [Path(adapter).expanduser().resolve() for adapter in adapters]
    adapter_keys = [str(path) for path in adapter_paths]
    out = Path(out_dir).resolve() if out_dir else config.output_dir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    scorer = Scorer()
    grader = Judge(judge) if judge is not None else None
    remote = [EndpointModel(target) for target in endpoints or []]
    for endpoint in remote:
        endpoint.check()
    models = Models(config, adapter_paths) if local else None
    max_seq_length = int(config.training["max_seq_length"])
    lineup: list[Contestant] = []
    if models is not None:
        for key in [None, *adapter_keys]:
            lineup.append(_local_contestant(models, key, _model_name(key, adapter_keys), max_new_tokens, max_seq_length, cancel))
    taken = {contestant.name for contestant in lineup}
    for endpoint in remote:
        lineup.append(_endpoint_contestant(endpoint, taken, max_new_tokens, cancel))
    total = len(held) * len(lineup)
    emit("eval_start", examples=len(held), left_out=left_out, models=[c.name for c in lineup], out_dir=str(out))
    note(f"evaluating {len(held)} example(s) with {len(lineup)} model(s) into {out}")

    summary_models: list[dict[str, Any]] = []
    done = 0
    started = time.time()
    results_path = out / "results.jsonl"
    with open(results_path, "w", encoding="utf-8") as results:
        for contestant in lineup:
            name, adapter = contestant.name, contestant.adapter
            rows: list[dict[str, Any]] = []
            answers: list[str] = []
            for item in held:
                if cancel.is_set():
                    raise Cancelled()
                answer = contestant.answer(item)
                loss = contestant.loss(item) if contestant.loss is not None else None
                row: dict[str, Any] = {
                    "example": item.index,
                    **item.location(),
                    "model": name,
                    "adapter": adapter,
                    **contestant.fields,
                    "prompt": item.prompt,
                    "reference": item.reference,
                    "answer": answer,
                    "loss": loss,
                    "exact_match": answer.strip() == item.reference.strip(),
                    "rouge_l": scorer.rouge_l(answer, item.reference),
                    "bleu": scorer.bleu(answer, item.reference),
                }
                if grader is not None:
                    score, reason = grader.grade(item.prompt, item.reference, answer)
                    row["judge"] = score
                    row["judge_reason"] = reason
                results.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
                results.flush()
                rows.append(row)
                answers.append(answer)
                done += 1
                elapsed = time.time() - started
                emit("progress", done=done, total=total, model=name, eta_seconds=elapsed / done * (total - done))
            metrics: dict[str, Any] = {
                "loss": _mean([row["loss"] for row in rows]),
                "rouge_l": _mean([row["rouge_l"] for row in rows]),
                "bleu": scorer.corpus_bleu(answers, [item.reference for item in held]),
                "exact_match": _mean([1.0 if row["exact_match"] else 0.0 for row in rows]),
            }
            if grader is not None:
                metrics["judge"] = _mean([row["judge"] for row in rows])
            entry: dict[str, Any] = {"name": name, "adapter": adapter, **contestant.fields, "metrics": metrics}
            if contestant.loss is None:
                entry["loss_note"] = LOSS_NOTE
            summary_models.append(entry)
    summary = {
        "examples": len(held),
        "models": summary_models,
        "config": str(config.path),
        "data": str(Path(data_file).resolve()) if data_file else None,
        "left_out": left_out,
        "results": str(results_path),
    }
    staging = out / f".summary.json.tmp-{os.getpid()}"
    staging.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(staging, out / "summary.json")
    return summary


def _install_cancel(cancel: threading.Event) -> None:
    def on_signal(signum: int, _frame: Any) -> None:
        if cancel.is_set():
            os._exit(EXIT_CANCELLED)  # a second signal: leave at once
        note(f"received {signal.Signals(signum).name}: stopping")
        cancel.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _print_table(summary: dict[str, Any]) -> None:
    def show(value: Any, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    print(f"{summary['examples']} example(s)")
    print(f"{'model':<24} {'loss':>8} {'rouge_l':>8} {'bleu':>8} {'exact':>6}")
    for model in summary["models"]:
        metrics = model["metrics"]
        print(
            f"{model['name']:<24} {show(metrics['loss'], 4):>8} {show(metrics['rouge_l'], 4):>8} "
            f"{show(metrics['bleu'], 2):>8} {show(metrics['exact_match'], 3):>6}"
            + (f"  judge {show(metrics.get('judge'), 2)}" if "judge" in metrics else "")
        )
    print(f"results: {summary['results']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a *.finetune.yaml file (its base model, chat template, eval split)")
    parser.add_argument("--adapter", action="append", default=[], help="an adapter folder to compare with the base (repeatable)")
    parser.add_argument("--data", default=None, help="a held-out file in any supported record format (default: the config's eval split)")
    parser.add_argument("--out", default=None, help="where results.jsonl and summary.json go (default: <output_dir>/eval)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="the longest answer generated (default 128)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--events", action="store_true", help="JSON-lines progress events on stdout (the job server's stream)")
    parser.add_argument("--judge-url", default=None, help=f"an OpenAI-compatible endpoint (…/v1) for an LLM judge; its key from ${JUDGE_KEY_ENV}")
    parser.add_argument("--judge-model", default=None, help="the judge's model name")
    parser.add_argument("--judge-rubric", default=None, help="the rubric: a text file or the text itself")
    add_endpoint_arguments(parser)


def _judge_settings(args: argparse.Namespace) -> JudgeSettings | None:
    if args.judge_url is None:
        if args.judge_model or args.judge_rubric:
            raise ConfigError("--judge-model and --judge-rubric need --judge-url")
        return None
    if not args.judge_model:
        raise ConfigError("--judge-url needs --judge-model")
    rubric = args.judge_rubric or "Is the answer correct, complete and as helpful as the reference?"
    candidate = Path(rubric)
    if len(rubric) < 4096 and candidate.suffix and candidate.is_file():
        if candidate.stat().st_size > 64 << 10:
            raise ConfigError(f"{candidate}: a rubric file must be under 64 KiB")
        rubric = candidate.read_text(encoding="utf-8")
    return JudgeSettings(url=args.judge_url, model=args.judge_model, rubric=rubric)


def eval_command(args: argparse.Namespace) -> int:
    events = EventWriter(stream=sys.stdout, enabled=bool(args.events))
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # libraries that print must not break the JSON output
    cancel = threading.Event()
    if threading.current_thread() is threading.main_thread():
        _install_cancel(cancel)
    progress = {"done": 0}

    def emit(event_type: str, **fields: Any) -> None:
        if event_type == "progress":
            progress["done"] = int(fields["done"])
        events.emit(event_type, **fields)

    try:
        if args.max_new_tokens < 1:
            raise ConfigError("--max-new-tokens must be at least 1")
        endpoints = endpoint_targets(args)
        if args.endpoints_only and args.adapter:
            raise ConfigError("--endpoints-only scores no local model: leave out --adapter")
        summary = run_eval(
            args.config, list(args.adapter), args.data, args.out, args.max_new_tokens, _judge_settings(args), emit, cancel,
            endpoints, not args.endpoints_only,
        )
    except Cancelled:
        events.emit("cancelled", step=progress["done"])
        note("evaluation cancelled; results.jsonl holds the examples answered so far")
        return EXIT_CANCELLED
    except TrainerError as exc:
        events.emit("error", code=exc.code, message=exc.message)
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        events.emit("error", code="internal", message=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        sys.stdout = real_stdout
    events.emit("eval_done", summary=summary)
    if args.json and not args.events:
        print(json.dumps({"examples": summary["examples"], "models": summary["models"]}, allow_nan=False))
    elif not args.events:
        _print_table(summary)
    return EXIT_DONE
