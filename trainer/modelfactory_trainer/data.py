"""Training records: read (JSONL or JSON array, a file or a Datanet's files), normalise, format, tokenise.

Chat records are rendered with the tokenizer's chat template, or with FALLBACK_TEMPLATE when it has
none, and the loss is masked to the assistant's tokens (labels -100 everywhere else). `text` records
train on every token.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import yaml

from .errors import DatasetError

if TYPE_CHECKING:
    from .config import FinetuneConfig

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")
_SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "model": "assistant",
}
# Used for models without a chat template (base GPT-2, BLOOM...). The assistant turn, up to and
# including the end-of-sequence token, is what the model learns to produce.
FALLBACK_ROLE_HEADERS = {"system": "### System:\n", "user": "### User:\n", "assistant": "### Assistant:\n"}
FALLBACK_TURN_END = "\n\n"


@dataclass(frozen=True)
class Example:
    """One normalised record: a conversation (`messages`) or plain text (`text`)."""

    source: str
    messages: tuple[tuple[str, str], ...] = ()
    text: str | None = None


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def detect_format(record: Any) -> str | None:
    """Same keys, same order of precedence as the language server's detector."""
    if not _is_object(record):
        return None
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "sharegpt"
    if "chosen" in record and "rejected" in record:
        return "preference"
    if "instruction" in record and ("output" in record or "input" in record):
        return "alpaca"
    if "text" in record:
        return "text"
    return None


def _first_character(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as handle:
        for line in handle:
            stripped = line.lstrip()
            if stripped:
                return stripped[0]
    return ""


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, record) pairs from a JSONL file (streamed line by line) or a JSON array file.

    Locations are `file:line` for JSONL and `file[index]` for arrays.
    """
    line_number = 0
    try:
        if _first_character(path) == "[":
            text = path.read_text(encoding="utf-8-sig")
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
            for index, item in enumerate(items):
                yield f"{path}[{index}]", item
            return
        with open(path, encoding="utf-8-sig") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{line_number}: invalid JSON: {exc.msg}") from exc
                yield f"{path}:{line_number}", record
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 near line {line_number + 1} ({exc.reason})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: {exc.strerror or exc}") from exc


def _text_field(record: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{where}: field '{key}' must be a string")
    return value


def _checked_conversation(turns: list[tuple[str, str]], where: str) -> tuple[tuple[str, str], ...]:
    if not any(role == "assistant" for role, _ in turns):
        raise DatasetError(f"{where}: the conversation has no assistant turn to learn from")
    return tuple(turns)


def normalise(record: Any, record_format: str, where: str) -> Example:
    """One record in any supported format as an Example; unusable records raise DatasetError."""
    if record_format == "auto":
        detected = detect_format(record)
        if detected is None:
            raise DatasetError(f"{where}: unknown record format (expected messages, conversations, instruction/output or text)")
        record_format = detected
    if not _is_object(record):
        raise DatasetError(f"{where}: a record must be a JSON object")
    if record_format == "text":
        return Example(source=where, text=_text_field(record, "text", where))
    if record_format == "alpaca":
        prompt = _text_field(record, "instruction", where)
        extra = _text_field(record, "input", where, required=False)
        turns = []
        system = record.get("system")
        if isinstance(system, str) and system:
            turns.append(("system", system))
        turns.append(("user", f"{prompt}\n\n{extra}" if extra else prompt))
        turns.append(("assistant", _text_field(record, "output", where)))
        return Example(source=where, messages=tuple(turns))
    if record_format == "messages":
        raw, role_key, content_key, role_map = record.get("messages"), "role", "content", None
    elif record_format == "sharegpt":
        raw, role_key, content_key, role_map = record.get("conversations"), "from", "value", _SHAREGPT_ROLES
    else:
        raise DatasetError(f"{where}: records in the '{record_format}' format cannot be used for supervised fine-tuning")
    if not isinstance(raw, list) or not raw:
        raise DatasetError(f"{where}: expected a non-empty list of turns")
    turns: list[tuple[str, str]] = []
    for index, turn in enumerate(raw):
        if not _is_object(turn):
            raise DatasetError(f"{where}: turn {index} must be an object")
        role = turn.get(role_key)
        role = role_map.get(role, role) if role_map and isinstance(role, str) else role
        if role not in ROLES:
            raise DatasetError(f"{where}: turn {index} has unknown role {turn.get(role_key)!r}")
        content = turn.get(content_key)
        if not isinstance(content, str):
            raise DatasetError(f"{where}: turn {index} needs a string '{content_key}'")
        turns.append((role, content))
    return Example(source=where, messages=_checked_conversation(turns, where))


def datanet_files(manifest_path: Path) -> tuple[list[Path], str | None]:
    """The files a Datanet manifest governs (its `files` globs, relative to it) and its record format."""
    try:
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8-sig"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{manifest_path}: cannot read the Datanet manifest: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise DatasetError(f"{manifest_path}: a Datanet manifest needs a 'files' list of globs")
    root = manifest_path.parent
    found: set[Path] = set()
    for pattern in manifest["files"]:
        if not isinstance(pattern, str) or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise DatasetError(f"{manifest_path}: 'files' entries must be relative globs inside its folder")
        found.update(path for path in root.glob(pattern) if path.is_file())
    if not found:
        raise DatasetError(f"{manifest_path}: its 'files' globs match no file")
    record_format = manifest.get("format")
    return sorted(found), record_format if isinstance(record_format, str) else None


def load_examples(config: FinetuneConfig) -> list[Example]:
    record_format = str(config.dataset["format"])
    if config.datanet_path is not None:
        files, manifest_format = datanet_files(config.datanet_path)
        if record_format == "auto" and manifest_format:
            record_format = manifest_format
    else:
        assert config.dataset_path is not None
        files = [config.dataset_path]
    examples = [normalise(record, record_format, where) for path in files for where, record in read_records(path)]
    if not examples:
        raise DatasetError(f"{', '.join(map(str, files))}: no records")
    return examples


def split_train_eval(examples: Sequence[Example], eval_split: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded shuffle, then the first share held out; at least one record each way when splitting."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    eval_count = 0
    if eval_split > 0 and len(examples) >= 2:
        eval_count = min(len(examples) - 1, max(1, round(len(examples) * eval_split)))
    return [examples[i] for i in order[eval_count:]], [examples[i] for i in order[:eval_count]]


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_chat(tokenizer: Any, messages: Sequence[tuple[str, str]], add_generation_prompt: bool) -> str:
    """A conversation as the model's prompt text: its own chat template, or the documented fallback."""
    if has_chat_template(tokenizer):
        rendered = tokenizer.apply_chat_template(
            [{"role": role, "content": content} for role, content in messages],
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )
        return str(rendered)
    eos = tokenizer.eos_token or ""
    bos = tokenizer.bos_token or ""
    parts = [bos]
    for role, content in messages:
        closing = eos if role == "assistant" else ""
        parts.append(f"{FALLBACK_ROLE_HEADERS[role]}{content}{closing}{FALLBACK_TURN_END}")
    if add_generation_prompt:
        parts.append(FALLBACK_ROLE_HEADERS["assistant"])
    return "".join(parts)


def _assistant_spans(tokenizer: Any, messages: Sequence[tuple[str, str]], full_text: str) -> list[tuple[int, int]]:
    """Character spans of the assistant turns in `full_text` (content plus the template's closing tokens).

    Rendering each prefix with and without the generation prompt finds where an assistant turn begins
    and ends; templates that rewrite earlier turns fall back to locating the content itself.
    """
    spans: list[tuple[int, int]] = []
    search_from = 0
    for index, (role, content) in enumerate(messages):
        if role != "assistant":
            continue
        before = render_chat(tokenizer, messages[:index], add_generation_prompt=True)
        through = render_chat(tokenizer, messages[: index + 1], add_generation_prompt=False)
        if full_text.startswith(through) and through.startswith(before):
            spans.append((len(before), len(through)))
            search_from = len(through)
            continue
        start = full_text.find(content, search_from)
        if start >= 0:
            spans.append((start, start + len(content)))
            search_from = start + len(content)
    return spans


def encode_example(tokenizer: Any, example: Example, max_seq_length: int) -> dict[str, list[int]] | None:
    """input_ids / labels / attention_mask, truncated; None when nothing trainable survives truncation."""
    if example.text is not None:
        text = example.text + (tokenizer.eos_token or "")
        ids = tokenizer(text, add_special_tokens=True, truncation=True, max_length=max_seq_length)["input_ids"]
        labels = list(ids)
    else:
        text = render_chat(tokenizer, example.messages, add_generation_prompt=False)
        spans = _assistant_spans(tokenizer, example.messages, text)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = encoded["input_ids"][:max_seq_length]
        offsets = encoded["offset_mapping"][:max_seq_length]
        labels = [
            token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
            for token, (begin, _) in zip(ids, offsets)
        ]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return {"input_ids": list(ids), "labels": labels, "attention_mask": [1] * len(ids)}
