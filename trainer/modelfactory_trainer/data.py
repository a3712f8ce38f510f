"""Training records: read (JSONL or JSON array, a file or a Datanet's files), normalise, format, tokenise.

Records become examples through the record contract (records.py). Conversations are rendered with a chat
template (the config's `chat_template`, else the model's own, else schemas/chat-templates/fallback.jinja),
tools included, and the loss is masked to the trained assistant turns (labels -100 everywhere else).
`text` records train on every token.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import yaml

from .config import load_yaml
from .errors import DatasetError
from .records import (
    RecordRefused,
    chat_template_path,
    contract,
    detect_format,
    objective_problem,
    read_source_path,
    template_turns,
    to_example,
    words,
)
from .registry import RegisteredDataset, map_registry_record, resolve_registered

if TYPE_CHECKING:
    from .config import FinetuneConfig

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Example:
    """One record in the contract's terms (records.py): `example` is the canonical dict, `source` where it came from."""

    source: str
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.example.get("kind", "sft"))

    @property
    def text(self) -> str | None:
        return self.example.get("text") if self.kind == "text" else None

    @property
    def turns(self) -> list[dict[str, Any]]:
        return list(self.example.get("messages", []))

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        return self.example.get("tools")

    @property
    def messages(self) -> tuple[tuple[str, str], ...]:
        """The conversation as (role, content) pairs, for a quick look."""
        return tuple((turn["role"], turn["content"]) for turn in self.turns)

    @classmethod
    def of_messages(cls, source: str, pairs: Sequence[tuple[str, str]]) -> Example:
        return cls(source, {"kind": "sft", "messages": [{"role": role, "content": content} for role, content in pairs]})

    @classmethod
    def of_text(cls, source: str, text: str) -> Example:
        return cls(source, {"kind": "text", "messages": [], "text": text})


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


def normalise(record: Any, record_format: str, where: str) -> Example:
    """One record in any supported format as an Example; unusable records raise DatasetError naming the linter's rule."""
    if record_format == "auto":
        detected = detect_format(record)
        if detected is None:
            raise DatasetError(
                f"{where}: unknown record format (expected messages, conversations, instruction/output, text, "
                "prompt/chosen/rejected or prompt/completion/label) [format/unknown]"
            )
        record_format = detected
    try:
        return Example(source=where, example=to_example(record, record_format))
    except RecordRefused as refused:
        at = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in refused.path)
        raise DatasetError(f"{where}{' ' + at.lstrip('.') if at else ''}: {refused.reason} [{refused.rule}]") from refused


def datanet_files(manifest_path: Path) -> tuple[list[Path], str | None]:
    """The files a Datanet manifest governs (its `files` globs, relative to it) and its record format."""
    try:
        manifest = load_yaml(manifest_path.read_text(encoding="utf-8-sig"))
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


def registered_dataset(config: FinetuneConfig) -> RegisteredDataset | None:
    """The registry entry a config names (`dataset: {registry, name}`), resolved to its file; None otherwise."""
    if config.registry_path is None:
        return None
    return resolve_registered(config.registry_path, str(config.dataset["name"]))


def read_as_registered(records: Iterable[tuple[str, Any]], registered: RegisteredDataset | None) -> Iterator[tuple[str, Any]]:
    """Records read through a registry entry are rewritten to the contract's keys first (registry.py)."""
    for where, record in records:
        yield where, record if registered is None else map_registry_record(registered.reading, record)


def dataset_files(config: FinetuneConfig) -> tuple[list[Path], str]:
    """The files a config trains on and the record format to read them as (`auto`: detected per record, or
    for a registry entry the format its formatting, ranking and columns give)."""
    record_format = str(config.dataset["format"])
    if "hub" in config.dataset:
        return [], record_format  # rows come from hub_dataset.hub_records, not from files
    registered = registered_dataset(config)
    if registered is not None:
        return [registered.file], registered.reading.format if record_format == "auto" else record_format
    if config.datanet_path is not None:
        files, manifest_format = datanet_files(config.datanet_path)
        if record_format == "auto" and manifest_format:
            record_format = manifest_format
        return files, record_format
    if config.datanet_version is not None:
        from .datanet_pull import pull_version

        return [pull_version(config.datanet_version)[0]], record_format
    assert config.dataset_path is not None
    return [config.dataset_path], record_format


def load_examples(config: FinetuneConfig) -> list[Example]:
    files, record_format = dataset_files(config)
    registered = registered_dataset(config)
    examples = [
        normalise(record, record_format, where)
        for path in files
        for where, record in read_as_registered(read_records(path), registered)
    ]
    if "hub" in config.dataset:
        from .hub_dataset import hub_label, hub_records

        examples = [normalise(record, record_format, where) for where, record in hub_records(config)]
        files = [Path(hub_label(config))]
    if not examples:
        raise DatasetError(f"{', '.join(map(str, files))}: no records")
    check_objective(examples, str(config.data.get("objective", "sft")))
    return examples


_KIND_FORMATS = {"preference": "preference", "kto": "kto"}


def check_objective(examples: Sequence[Example], objective: str) -> None:
    """The job's objective can train every example, and no example carries media; else the contract's words."""
    for example in examples:
        problem = objective_problem(objective, _KIND_FORMATS.get(example.kind, "messages"))
        if problem:
            raise DatasetError(f"{example.source}: {problem}")
    with_media = sum(1 for example in examples if example.example.get("media"))
    if with_media:
        raise DatasetError(words("media-text-only", count=with_media))


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


def fallback_template() -> str:
    """The template for models that ship none (schemas/chat-templates/fallback.jinja)."""
    path = chat_template_path("fallback")
    if path is None:
        raise DatasetError("the built-in fallback chat template is missing from schemas/chat-templates")
    return read_source_path(path)


def resolve_chat_template(choice: str | None, config_dir: Path | None = None) -> str | None:
    """A config's `chat_template`: None (the model's own), a built-in name, or a .jinja file relative to the config."""
    if not choice:
        return None
    builtin = chat_template_path(choice)
    if builtin is not None:
        return read_source_path(builtin)
    if choice.endswith(".jinja"):
        return read_source_path((config_dir or Path.cwd()) / choice)
    raise DatasetError(f"chat_template: '{choice}' is neither a built-in template (chatml) nor a .jinja file")


def _as_turns(messages: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"role": m[0], "content": m[1]} if isinstance(m, tuple) else m for m in messages]


def render_chat(
    tokenizer: Any,
    messages: Sequence[Any],
    add_generation_prompt: bool,
    tools: list[dict[str, Any]] | None = None,
    chat_template: str | None = None,
) -> str:
    """Turns ((role, content) pairs or turn dicts) as the model's input text, through a chat template: the
    config's choice, else the model's own, else the fallback."""
    # With the model's own template, transformers picks it (and, for a named set, the tool_use one for records with tools).
    template = chat_template or (None if has_chat_template(tokenizer) else fallback_template())
    turns = _as_turns(messages)
    inline = any(turn.get("reasoning") for turn in turns) and not renders_reasoning(tokenizer, template, tools)
    rendered = tokenizer.apply_chat_template(
        template_turns(turns, inline_reasoning=inline),
        tools=tools or None,
        chat_template=template,
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
    )
    return str(rendered)


_RENDERS_REASONING: dict[tuple[str, bool], bool] = {}


def renders_reasoning(tokenizer: Any, chat_template: str | None, tools: list[dict[str, Any]] | None = None) -> bool:
    """Whether the template renders an assistant turn's reasoning from the message (reasoning_content,
    thinking or reasoning): the contract's probe, as the reasoning of a final assistant turn, shows up in
    the text. Templates that do not get the reasoning inline (records.template_turns); the language
    server decides the same way (chatTemplate.ts)."""
    own = getattr(tokenizer, "chat_template", None)
    key = (chat_template if chat_template is not None else json.dumps(own, sort_keys=True), bool(tools))
    known = _RENDERS_REASONING.get(key)
    if known is not None:
        return known
    probe = contract()["reasoning"]["probe"]
    turns = [{"role": "user", "content": "?"}, {"role": "assistant", "content": "!", "reasoning": probe}]
    try:
        text = tokenizer.apply_chat_template(
            template_turns(turns), tools=tools or None, chat_template=chat_template, tokenize=False, add_generation_prompt=False
        )
        known = probe in str(text)
    except Exception:  # noqa: BLE001 - a template that cannot render the probe renders no reasoning
        known = False
    if len(_RENDERS_REASONING) > 64:
        _RENDERS_REASONING.clear()
    _RENDERS_REASONING[key] = known
    return known


def trained_spans(
    tokenizer: Any, turns: Sequence[dict[str, Any]], full_text: str, tools: list[dict[str, Any]] | None, chat_template: str | None
) -> list[tuple[int, int]]:
    """Character spans of the trained assistant turns in `full_text` (content plus the template's closing tokens).

    Rendering each prefix with and without the generation prompt finds where an assistant turn begins
    and ends; templates that rewrite earlier turns fall back to locating the content itself. A tool call
    the template does not render at all is refused: the model would learn an empty answer.
    """
    spans: list[tuple[int, int]] = []
    search_from = 0
    for index, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        before = render_chat(tokenizer, turns[:index], True, tools, chat_template)
        through = render_chat(tokenizer, turns[: index + 1], False, tools, chat_template)
        if full_text.startswith(through) and through.startswith(before):
            span = (len(before), len(through))
        else:
            start = full_text.find(turn["content"], search_from)
            span = (start, start + len(turn["content"])) if start >= 0 else (search_from, search_from)
        for call in turn.get("tool_calls", []):
            if call["name"] not in full_text[span[0] : span[1]]:
                raise DatasetError(words("template-drops-tool-calls", name=call["name"]) + " [format/chat-template]")
        search_from = span[1]
        if turn.get("train", True):
            spans.append(span)
    return spans


def encode_example(
    tokenizer: Any, example: Example, max_seq_length: int, chat_template: str | None = None
) -> dict[str, list[int]] | None:
    """input_ids / labels / attention_mask, truncated; None when nothing trainable survives truncation."""
    if example.text is not None:
        text = example.text + (tokenizer.eos_token or "")
        ids = tokenizer(text, add_special_tokens=True, truncation=True, max_length=max_seq_length)["input_ids"]
        labels = list(ids)
    else:
        turns = example.turns
        text = render_chat(tokenizer, turns, False, example.tools, chat_template)
        try:
            spans = trained_spans(tokenizer, turns, text, example.tools, chat_template)
        except DatasetError as exc:
            raise DatasetError(f"{example.source}: {exc}") from exc
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
