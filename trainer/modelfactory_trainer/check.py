"""`check CONFIG`: every record of a job's dataset loaded and rendered exactly as `train` would, with the
tokenizer only (no weights), and a report: what loads, what does not and why (with the linter's rule id),
token counts in the model's own terms, and with --show N some rendered examples with the trained tokens
marked. Exit 0 when every record loads and the job's objective can use them, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from .config import load_config
from .data import (
    Example,
    check_objective,
    dataset_files,
    has_chat_template,
    normalise,
    read_as_registered,
    registered_dataset,
    render_chat,
    resolve_chat_template,
    trained_spans,
)
from .errors import TrainerError
from .hub_dataset import hub_records, is_hub_dataset
from .media import MediaChecker

TRAINED_OPEN, TRAINED_CLOSE = "\u27e6", "\u27e7"


def _records(path: Path) -> Any:
    """(location, record or the JSON error) for every record, reading on past the bad ones."""
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            yield f"{path}:{exc.lineno}", exc
            return
        for index, item in enumerate(items if isinstance(items, list) else [items]):
            yield f"{path}[{index}]", item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield f"{path}:{number}", json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"{path}:{number}", exc


def _percentile(sorted_values: list[int], share: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(round(share * (len(sorted_values) - 1))))]


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], TRAINED_OPEN, text[start:end], TRAINED_CLOSE]
        at = end
    return "".join(out + [text[at:]])


def _note_download(_type: str, **progress: Any) -> None:
    """check fetches the tokenizer's files only; its progress is a line on stderr, not an event."""
    from .events import note

    if progress.get("finished") or progress.get("files_done") == 0:
        note(f"{progress['repo']}: {progress['files_done']}/{progress['files_total']} files, {progress['bytes_done']} bytes")


def run_check(config_path: str, show: int) -> dict[str, Any]:
    from .hub_download import model_source
    from .models import load_tokenizer

    report: dict[str, Any] = {"records": 0, "loaded": 0, "problems": [], "tokens": {}, "examples": []}
    problems: list[dict[str, str]] = report["problems"]
    try:
        config = load_config(config_path)
        files, record_format = dataset_files(config)
        registered = registered_dataset(config)
    except TrainerError as exc:
        problems.append({"where": str(config_path), "message": str(exc)})
        return report
    examples: list[Example] = []
    media = MediaChecker()
    sources: list[tuple[Path | None, Any]] = [(path, read_as_registered(_records(path), registered)) for path in files]
    if is_hub_dataset(config):
        sources = [(None, hub_records(config))]
    for path, rows in sources:
        for where, record in rows:
            report["records"] += 1
            if isinstance(record, json.JSONDecodeError):
                problems.append({"where": where, "message": f"invalid JSON: {record.msg} [jsonl/invalid-json]"})
                continue
            try:
                examples.append(normalise(record, record_format, where))
            except TrainerError as exc:
                problems.append({"where": where, "message": str(exc).removeprefix(f"{where}").lstrip(" :")})
                continue
            # The files a record names must exist, relative to the dataset's folder (media/missing-file).
            if path is not None:
                problems += [{"where": where, "message": message} for message in media.problems(record, path.parent)]
    try:
        check_objective(examples, str(config.data["objective"]))
    except TrainerError as exc:
        problems.append({"where": str(config.path), "message": str(exc)})

    source = model_source(config.base_model, config.data.get("revision"), _note_download, threading.Event(), weights=False)
    assert source is not None  # only a cancel makes it None, and check has none
    tokenizer = load_tokenizer(source, bool(config.data["trust_remote_code"]))
    choice = config.data.get("chat_template")
    template = resolve_chat_template(choice, config.path.parent)
    limit = int(config.training["max_seq_length"])
    counts: list[int] = []
    trained_tokens = 0
    for example in examples:
        try:
            if example.text is not None:
                text, spans = example.text + (tokenizer.eos_token or ""), None
            else:
                text = render_chat(tokenizer, example.turns, False, example.tools, template)
                spans = trained_spans(tokenizer, example.turns, text, example.tools, template)
        except TrainerError as exc:
            problems.append({"where": example.source, "message": str(exc).removeprefix(example.source).lstrip(" :")})
            continue
        encoded = tokenizer(text, add_special_tokens=example.text is not None, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        counts.append(len(ids))
        kept = offsets[:limit]
        trained_tokens += len(kept) if spans is None else sum(1 for begin, _ in kept if any(a <= begin < b for a, b in spans))
        report["loaded"] += 1
        if len(report["examples"]) < show:
            report["examples"].append({"where": example.source, "text": text if spans is None else _marked(text, spans)})
    counts.sort()
    report["tokens"] = {
        "exact": True,
        "tokenizer": config.base_model,
        "template": choice or ("model" if has_chat_template(tokenizer) else "fallback"),
        "limit": limit,
        "over_limit": sum(1 for count in counts if count > limit),
        "p50": _percentile(counts, 0.5),
        "p90": _percentile(counts, 0.9),
        "p99": _percentile(counts, 0.99),
        "max": counts[-1] if counts else 0,
        "trained": trained_tokens,
    }
    return report


def check_command(config_path: str, as_json: bool, show: int) -> int:
    try:
        report = run_check(config_path, show)
    except TrainerError as exc:
        report = {"records": 0, "loaded": 0, "problems": [{"where": config_path, "message": str(exc)}], "tokens": {}, "examples": []}
    ok = not report["problems"] and report["loaded"] == report["records"] and report["records"] > 0
    if as_json:
        shown = report if show else {key: value for key, value in report.items() if key != "examples"}
        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
        return 0 if ok else 1
    tokens = report["tokens"]
    lines = [f"{report['loaded']} of {report['records']} records load and render"]
    if tokens:
        lines.append(
            f"tokens ({tokens['tokenizer']}, template {tokens['template']}): p50 {tokens['p50']}, p90 {tokens['p90']}, "
            f"p99 {tokens['p99']}, max {tokens['max']}; {tokens['over_limit']} over max_seq_length {tokens['limit']}; "
            f"{tokens['trained']} trained tokens per epoch"
        )
    for problem in report["problems"]:
        lines.append(f"{problem['where']}: {problem['message']}")
    for example in report["examples"]:
        lines += ["", f"--- {example['where']} (trained tokens between {TRAINED_OPEN} and {TRAINED_CLOSE})", example["text"]]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if ok else 1
