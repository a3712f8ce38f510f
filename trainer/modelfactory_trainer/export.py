"""`export`: ship a trained adapter as a Hugging Face model folder, an Ollama Modelfile and (with llama.cpp) GGUF.

    python -m modelfactory_trainer export --adapter DIR --out DIR [--base MODEL] [--merge] [--ollama] [--gguf]

Without --merge the folder holds a copy of the adapter (`adapter/`), its README model card and, with --ollama,
a Modelfile that applies it to the base (`FROM` base, `ADAPTER ./adapter`). With --merge the LoRA weights are
folded into the base (peft's `merge_and_unload`) and the folder is a standard model: sharded safetensors,
config, tokenizer with the chat template the adapter was trained with, generation config, model card. A QLoRA
adapter is merged into the unquantized base in bf16 (merging into 4-bit weights would round the adapter away).
--gguf runs llama.cpp's `convert_hf_to_gguf.py` on the merged folder (--llama-cpp DIR or $MODELFACTORY_LLAMA_CPP).

Everything is written into a temp folder beside --out and renamed into place at the end, so --out is either
absent or complete. Progress is JSON lines on stdout with --events (the job server relays them), else notes on
stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import TrainerError
from .events import JsonLineWriter, note
from .digest import sha256_of

LLAMA_CPP_ENV = "MODELFACTORY_LLAMA_CPP"
GGUF_CONVERTER = "convert_hf_to_gguf.py"
DEFAULT_SHARD_SIZE = "5GB"
SYSTEM_SCAN_RECORDS = 2000
SYSTEM_SCAN_BYTES = 64 << 20


class ExportError(TrainerError):
    code = "export-failed"


Progress = Callable[[str, float, str], None]
"""(stage, fraction of the whole export done, human message)."""


@dataclass
class ExportOptions:
    adapter: Path
    out: Path
    base: str | None = None
    merge: bool = False
    ollama: bool = False
    gguf: bool = False
    llama_cpp: Path | None = None
    system: str | None = None
    config: Path | None = None
    max_shard_size: str = DEFAULT_SHARD_SIZE
    gguf_type: str = "f16"
    trust_remote_code: bool = False


@dataclass
class RunRecord:
    """What is known about the training run that made the adapter (from its config and event log, if found)."""

    config_path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Any] | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    data_files: list[Path] = field(default_factory=list)


# ---- the Ollama template -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateConversion:
    template: str | None
    stops: list[str]
    reason: str | None = None


_MARK = {"system": "\u2063SYS\u2063", "user": "\u2063USR\u2063", "assistant": "\u2063AST\u2063"}


def _go_literal(text: str) -> str:
    """Literal text inside a Go template: `{{` would open an action, so it is written as an action printing it."""
    return text.replace("{{", '{{ "{{" }}')


def _render(tokenizer: Any, template: str | None, roles: list[str], generation_prompt: bool) -> str:
    from .data import render_chat

    return render_chat(
        tokenizer, [(role, _MARK[role]) for role in roles], add_generation_prompt=generation_prompt, chat_template=template
    )


def _go_render(parts: dict[str, str], messages: list[tuple[str, str]]) -> str:
    """What Ollama renders from the template `convert_chat_template` writes (kept in step with it)."""
    text = parts["head"]
    for role, content in messages:
        text += parts[f"{role}_pre"] + content + parts[f"{role}_post"]
    return text + parts["generation"]


def convert_chat_template(tokenizer: Any, template: str | None) -> TemplateConversion:
    """The Jinja chat template as an Ollama (Go) TEMPLATE, when it wraps each turn in a fixed prefix and suffix per
    role (ChatML, the tiny model's, Llama-3-like, and most others). The wrappers are read off renders of marker
    messages, and the result is accepted only if it renders a longer conversation exactly as the Jinja does."""
    bos = str(getattr(tokenizer, "bos_token", None) or "")
    try:
        user = _render(tokenizer, template, ["user"], False)
        user_gen = _render(tokenizer, template, ["user"], True)
        system_user = _render(tokenizer, template, ["system", "user"], False)
        user_assistant = _render(tokenizer, template, ["user", "assistant"], False)
    except Exception as exc:  # a template that refuses a role (no system turn, strict alternation) says why
        return TemplateConversion(None, [], f"the chat template failed on a plain conversation: {exc}")
    head = bos if bos and user.startswith(bos) else ""

    def split(text: str, mark: str) -> tuple[str, str]:
        if text.count(mark) != 1:
            raise ValueError(f"a message's content appears {text.count(mark)} times in its render")
        before, after = text.split(mark)
        return before, after

    try:
        before, user_post = split(user, _MARK["user"])
        user_pre = before[len(head) :]
        system_before, rest = split(system_user, _MARK["system"])
        system_pre = system_before[len(head) :]
        between, _ = split(rest, _MARK["user"])
        if not between.endswith(user_pre):
            raise ValueError("the text after a system turn does not end in the user turn's prefix")
        system_post = between[: len(between) - len(user_pre)] if user_pre else between
        _, after_user = split(user_assistant, _MARK["user"])
        between, assistant_post = split(after_user, _MARK["assistant"])
        if not between.startswith(user_post):
            raise ValueError("the text before an assistant turn does not start with the user turn's suffix")
        assistant_pre = between[len(user_post) :]
        if not user_gen.startswith(user):
            raise ValueError("the generation prompt is not appended after the conversation")
        generation = user_gen[len(user) :]
    except ValueError as exc:
        return TemplateConversion(None, [], f"the chat template is not a fixed prefix and suffix per role ({exc})")
    parts = {
        "head": head,
        "system_pre": system_pre,
        "system_post": system_post,
        "user_pre": user_pre,
        "user_post": user_post,
        "assistant_pre": assistant_pre,
        "assistant_post": assistant_post,
        "generation": generation,
    }
    check = [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello."), ("user", "And 2 plus 2?")]
    from .data import render_chat

    try:
        expected = render_chat(tokenizer, check, add_generation_prompt=True, chat_template=template)
    except Exception as exc:
        return TemplateConversion(None, [], f"the chat template failed on a multi-turn conversation: {exc}")
    if _go_render(parts, check) != expected:
        return TemplateConversion(
            None,
            [],
            "the chat template renders turns differently by position (for example the first or last turn), "
            "which a per-role Ollama template cannot express",
        )
    literal = {key: _go_literal(value) for key, value in parts.items()}
    # No `{{-` trimming anywhere: the wrappers' own newlines are part of the prompt.
    template_text = (
        # The BOS token is left to the runtime (llama.cpp adds it), as Ollama's own templates do.
        "{{ if .System }}"
        f"{literal['system_pre']}{{{{ .System }}}}{literal['system_post']}"
        "{{ end }}"
        "{{ range .Messages }}"
        f'{{{{ if eq .Role "user" }}}}{literal["user_pre"]}{{{{ .Content }}}}{literal["user_post"]}'
        f'{{{{ else if eq .Role "assistant" }}}}{literal["assistant_pre"]}{{{{ .Content }}}}{literal["assistant_post"]}'
        "{{ end }}"
        "{{ end }}"
        f"{literal['generation']}"
    )
    stops = [stop for stop in (assistant_post.strip(), user_pre.strip()) if stop]
    return TemplateConversion(template_text, list(dict.fromkeys(stops)))


def _quote(text: str) -> str:
    """A Modelfile value in triple quotes (the only form that keeps newlines)."""
    if '"""' in text:
        raise ExportError('a Modelfile value may not contain """')
    return f'"""{text}"""'


def modelfile_text(
    source: str, adapter: str | None, conversion: TemplateConversion, system: str | None, stops: list[str]
) -> str:
    lines = ["# Written by ModelFactory (python -m modelfactory_trainer export).", f"FROM {source}"]
    if adapter is not None:
        lines.append(f"ADAPTER {adapter}")
    if conversion.template is not None:
        lines.append(f"TEMPLATE {_quote(conversion.template)}")
    else:
        lines.append(f"# No TEMPLATE: {conversion.reason}. Ollama falls back to the model's own; check it.")
    if system:
        lines.append(f"SYSTEM {_quote(system)}")
    for stop in stops:
        lines.append(f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


# ---- the run record ------------------------------------------------------------------------------------------


def find_run_record(adapter: Path, config: Path | None) -> RunRecord:
    """The config beside a job's output (the job server's layout), or the one given; the job's `done` event."""
    record = RunRecord()
    job_folder = adapter.parent.parent
    candidate = config or (job_folder / "config.finetune.yaml")
    if candidate.is_file():
        from .config import load_config

        try:
            loaded = load_config(str(candidate))
        except TrainerError as exc:
            if config is not None:
                raise
            note(f"export: the run's config {candidate} does not load ({exc.message}); the model card leaves it out")
        else:
            record.config_path = candidate
            record.config = loaded.data
            record.dataset = _dataset_summary(loaded)
            record.data_files = _data_files(loaded)
    events = job_folder / "events.jsonl"
    if events.is_file() and events.stat().st_size < (64 << 20):
        for line in events.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line).get("event", {})
            except (ValueError, AttributeError):
                continue
            if isinstance(event, dict) and event.get("type") == "done":
                record.done = event
    return record


def _dataset_summary(config: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if config.datanet_path is not None and config.datanet_path.is_file():
        from .data import datanet_files
        from .server_yaml import load_client_yaml

        try:
            manifest = load_client_yaml(config.datanet_path.read_text(encoding="utf-8"))
        except Exception:
            manifest = {}
        name = manifest.get("name") if isinstance(manifest, dict) else None
        files, _ = datanet_files(config.datanet_path)
        digest = hashlib.sha256()
        digest.update(sha256_of(config.datanet_path).encode())
        for path in sorted(files):
            digest.update(f"{path.name}:{sha256_of(path)}".encode())
        summary.update(datanet=str(name or config.datanet_path.parent.name), files=[p.name for p in sorted(files)])
        # Datanet manifests carry no version field: the version is the content hash of the manifest and its files.
        summary["version"] = "sha256:" + digest.hexdigest()[:16]
    elif config.dataset_path is not None and config.dataset_path.is_file():
        summary.update(files=[config.dataset_path.name], version="sha256:" + sha256_of(config.dataset_path)[:16])
    return summary


def _data_files(config: Any) -> list[Path]:
    from .data import datanet_files

    if config.datanet_path is not None and config.datanet_path.is_file():
        return sorted(datanet_files(config.datanet_path)[0])
    if config.dataset_path is not None and config.dataset_path.is_file():
        return [config.dataset_path]
    return []


def trained_system_prompt(paths: list[Path]) -> str | None:
    """The system prompt the training records share (the most common one, if most records carry it); the first
    records of each JSONL file only, bounded in count and bytes."""
    seen: Counter[str] = Counter()
    total = 0
    for path in paths:
        if path.suffix != ".jsonl" or not path.is_file():
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            read = 0
            for line in handle:
                read += len(line)
                if total >= SYSTEM_SCAN_RECORDS or read > SYSTEM_SCAN_BYTES:
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                total += 1
                messages = record.get("messages") if isinstance(record, dict) else None
                system = record.get("system") if isinstance(record, dict) else None
                if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                    if messages[0].get("role") == "system" and isinstance(messages[0].get("content"), str):
                        system = messages[0]["content"]
                if isinstance(system, str) and system.strip():
                    seen[system] += 1
    if not seen or total == 0:
        return None
    prompt, count = seen.most_common(1)[0]
    return prompt if count * 2 > total else None


# ---- the export ----------------------------------------------------------------------------------------------


def find_gguf_converter(llama_cpp: Path | None) -> Path:
    folder = llama_cpp or (Path(os.environ[LLAMA_CPP_ENV]) if os.environ.get(LLAMA_CPP_ENV) else None)
    how = (
        f"GGUF needs llama.cpp's converter {GGUF_CONVERTER}: clone https://github.com/ggml-org/llama.cpp, install its Python "
        f"requirements (pip install -r requirements/requirements-convert_hf_to_gguf.txt), then pass --llama-cpp "
        f"<the clone> or set {LLAMA_CPP_ENV}."
    )
    if folder is None:
        raise ExportError(f"no llama.cpp folder given. {how}")
    script = folder.expanduser() / GGUF_CONVERTER
    if not script.is_file():
        raise ExportError(f"{script} does not exist. {how}")
    return script.resolve()


def _adapter_base(adapter: Path) -> tuple[str, dict[str, Any]]:
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ExportError(f"{adapter}/adapter_config.json is not an object")
    return str(config.get("base_model_name_or_path") or ""), config


def _display_base(spec: str) -> str:
    from .tiny import TINY_LLAMA_ID, tiny_llama_dir

    try:
        if Path(spec).resolve() == tiny_llama_dir().resolve():
            return TINY_LLAMA_ID
    except OSError:
        pass
    return spec


def model_card(
    options: ExportOptions, base: str, record: RunRecord, merged: bool, dtype: str, conversion: TemplateConversion
) -> str:
    config = record.config
    lora = config.get("lora", {}) if config else {}
    training = config.get("training", {}) if config else {}
    method = str(config.get("method", "lora")) if config else "lora"
    lines = [
        "---",
        f"base_model: {json.dumps(base)}",
        "library_name: " + ("transformers" if merged else "peft"),
        "tags: [modelfactory, " + ("merged-lora" if merged else "lora") + "]",
        "---",
        "",
        f"# {options.out.name}",
        "",
        f"Fine-tuned from `{base}` with ModelFactory ({method}).",
        "",
    ]
    if merged:
        lines.append(
            f"The LoRA adapter is merged into the base weights (`merge_and_unload`), saved in {dtype}."
            + (" The adapter was trained with QLoRA; it is merged into the unquantized base in bf16, so "
               "outputs can differ slightly from the 4-bit training-time model." if method == "qlora" else "")
        )
    else:
        lines.append("This folder holds the LoRA adapter (`adapter/`); load it on the base with peft.")
    lines += ["", "## Data", ""]
    if record.dataset:
        if "datanet" in record.dataset:
            lines.append(f"- Datanet: {record.dataset['datanet']}")
        lines.append(f"- Files: {', '.join(record.dataset.get('files', [])) or 'unknown'}")
        lines.append(f"- Version: `{record.dataset.get('version', 'unknown')}`")
    else:
        lines.append("- Unknown: the training config was not found (pass --config to record it).")
    lines += ["", "## Training configuration", ""]
    if config:
        lines.append(f"- Method: {method}")
        if lora:
            lines.append(f"- LoRA: r={lora.get('r')}, alpha={lora.get('alpha')}, dropout={lora.get('dropout')}, "
                         f"targets={', '.join(map(str, lora.get('target_modules') or []))}")
        for key in ("learning_rate", "max_steps", "num_epochs", "batch_size", "gradient_accumulation_steps",
                    "max_seq_length", "lr_scheduler"):
            if training.get(key) is not None:
                lines.append(f"- {key}: {training[key]}")
        if config.get("chat_template"):
            lines.append(f"- Chat template: {config['chat_template']}")
    else:
        lines.append("- Unknown (no config found).")
    lines += ["", "## Evaluation", ""]
    done = record.done or {}
    if done:
        for key in ("train_loss", "eval_loss", "steps", "runtime_seconds"):
            if done.get(key) is not None:
                value = done[key]
                lines.append(f"- {key}: {value:.4f}" if isinstance(value, float) else f"- {key}: {value}")
    else:
        lines.append("- No evaluation summary was recorded with this adapter.")
    lines += ["", "## Files", ""]
    lines.append("- Chat template: `chat_template.jinja` (the one the adapter was trained with)" if merged
                 else "- `adapter/`: adapter_config.json, adapter_model.safetensors, tokenizer, chat template")
    if options.ollama:
        lines.append("- `Modelfile`: `ollama create NAME -f Modelfile`"
                     + ("" if conversion.template else f" (no TEMPLATE: {conversion.reason})"))
    if options.gguf:
        lines.append(f"- `model-{options.gguf_type}.gguf`: for llama.cpp and Ollama")
    return "\n".join(lines) + "\n"


def run_export(options: ExportOptions, progress: Progress) -> dict[str, Any]:
    """Writes the export; returns a summary. Raises TrainerError on bad input, with nothing left behind."""
    from .models import adapter_chat_template, check_adapter_dir, load_tokenizer, resolve_model_source

    adapter = check_adapter_dir(options.adapter)
    out = options.out.expanduser().resolve()
    if out.exists():
        raise ExportError(f"{out} already exists; choose a new --out folder (an export never overwrites)")
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent} does not exist")
    merge = options.merge or options.gguf
    converter = find_gguf_converter(options.llama_cpp) if options.gguf else None
    recorded_base, adapter_config = _adapter_base(adapter)
    base = options.base or recorded_base
    if not base:
        raise ExportError("the adapter does not name its base model; pass --base")
    source = resolve_model_source(base)
    display_base = _display_base(options.base or recorded_base)
    record = find_run_record(adapter, options.config)
    method = str(record.config.get("method", "lora")) if record.config else "lora"
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    started = time.perf_counter()
    try:
        progress("tokenizer", 0.02, "reading the tokenizer and chat template")
        # The adapter folder carries the tokenizer saved at training time, with the template it was trained on.
        tokenizer = load_tokenizer(str(adapter) if (adapter / "tokenizer_config.json").is_file() else source,
                                   options.trust_remote_code)
        template = adapter_chat_template(adapter)
        if template is not None:
            tokenizer.chat_template = template
        conversion = convert_chat_template(tokenizer, template)
        dtype_name = "adapter only"
        if merge:
            dtype_name = _merge_into(staging, source, adapter, tokenizer, method, options, progress)
        else:
            progress("copy", 0.5, "copying the adapter")
            shutil.copytree(adapter, staging / "adapter", ignore=shutil.ignore_patterns(".*"))
        system = options.system
        if system is None:
            system = trained_system_prompt(record.data_files)
        stops = list(conversion.stops)
        eos = getattr(tokenizer, "eos_token", None)
        if eos and eos not in stops:
            stops.append(str(eos))
        if options.ollama:
            progress("modelfile", 0.9, "writing the Ollama Modelfile")
            if merge:
                text = modelfile_text(".", None, conversion, system, stops) if not options.gguf else modelfile_text(
                    f"./model-{options.gguf_type}.gguf", None, conversion, system, stops)
            else:
                text = modelfile_text(source if Path(source).is_dir() else base, "./adapter", conversion, system, stops)
            (staging / "Modelfile").write_text(text, encoding="utf-8")
        if converter is not None:
            progress("gguf", 0.92, f"converting to GGUF ({options.gguf_type}) with {converter}")
            _convert_gguf(converter, staging, options.gguf_type)
        progress("card", 0.97, "writing the model card")
        (staging / "README.md").write_text(
            model_card(options, display_base, record, merge, dtype_name, conversion), encoding="utf-8")
        staging.chmod(0o755)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    summary = {
        "out": str(out),
        "merged": merge,
        "base": display_base,
        "files": files,
        "template_converted": conversion.template is not None,
        "template_note": conversion.reason,
        "seconds": round(time.perf_counter() - started, 3),
    }
    progress("done", 1.0, f"exported to {out}")
    return summary


def _merge_into(
    staging: Path, source: str, adapter: Path, tokenizer: Any, method: str, options: ExportOptions, progress: Progress
) -> str:
    import torch
    from peft import PeftModel

    from .models import load_causal_lm

    progress("load", 0.1, f"loading the base model {source}")
    from transformers import AutoConfig

    base_config = AutoConfig.from_pretrained(source, local_files_only=True, trust_remote_code=options.trust_remote_code)
    stored = getattr(base_config, "dtype", None) or getattr(base_config, "torch_dtype", None)
    if method == "qlora":
        # The adapter was trained against 4-bit weights; it is merged into the full-precision base in bf16.
        save_dtype = torch.bfloat16
        note("export: QLoRA adapter: merging into the unquantized base in bf16 (not into 4-bit weights)")
    elif isinstance(stored, torch.dtype):
        save_dtype = stored
    elif isinstance(stored, str) and hasattr(torch, stored):
        save_dtype = getattr(torch, stored)
    else:
        save_dtype = torch.float32
    # Merged in the dtype it is saved in (the base's own: fp32 stays exact; bf16 as every merge tool does it), on
    # the GPU when there is one, so an 8B model needs 16 GB rather than 32.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_causal_lm(source, options.trust_remote_code, dtype=save_dtype).to(device)
    progress("merge", 0.4, f"applying and merging the adapter (merge_and_unload, {device})")
    model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False, use_safetensors=True)
    merged = model.merge_and_unload().to("cpu")
    dtype_text = str(save_dtype).replace("torch.", "")
    progress("save", 0.6, f"saving sharded safetensors ({options.max_shard_size} per shard, {dtype_text})")
    merged.save_pretrained(str(staging), safe_serialization=True, max_shard_size=options.max_shard_size)
    tokenizer.save_pretrained(str(staging))
    template = tokenizer.chat_template
    if isinstance(template, str) and not (staging / "chat_template.jinja").is_file():
        (staging / "chat_template.jinja").write_text(template, encoding="utf-8")
    return dtype_text


def _convert_gguf(converter: Path, folder: Path, outtype: str) -> None:
    target = folder / f"model-{outtype}.gguf"
    command = [sys.executable, str(converter), str(folder), "--outfile", str(target), "--outtype", outtype]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=6 * 3600)
    if completed.returncode != 0 or not target.is_file():
        tail = (completed.stderr or completed.stdout)[-1500:]
        raise ExportError(f"llama.cpp's converter failed (exit {completed.returncode}): {tail}")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--adapter", required=True, help="the adapter folder (adapter_config.json + safetensors)")
    parser.add_argument("--out", required=True, help="the folder to create (must not exist)")
    parser.add_argument("--base", default=None, help="the base model (default: the one the adapter names)")
    parser.add_argument("--merge", action="store_true", help="merge the adapter into the base weights")
    parser.add_argument("--ollama", action="store_true", help="write an Ollama Modelfile")
    parser.add_argument("--gguf", action="store_true", help="also convert to GGUF with llama.cpp (implies --merge)")
    parser.add_argument("--gguf-type", default="f16", choices=["f32", "f16", "bf16", "q8_0"], help="GGUF weight type")
    parser.add_argument("--llama-cpp", default=None, help=f"a llama.cpp checkout (default: ${LLAMA_CPP_ENV})")
    parser.add_argument("--system", default=None, help="the Modelfile's SYSTEM (default: the training data's shared one)")
    parser.add_argument("--config", default=None, help="the training config, for the model card (found beside a job)")
    parser.add_argument("--max-shard-size", default=DEFAULT_SHARD_SIZE, help="safetensors shard size, e.g. 2GB")
    parser.add_argument("--events", action="store_true", help="progress and the result as JSON lines on stdout")
    parser.add_argument("--trust-remote-code", action="store_true", help="run the model repository's code")
    parser.add_argument(
        "--exit-with-parent", action="store_true",
        help="stop (and stop the GGUF converter) when stdin reaches its end: the job server keeps a pipe open for its life",
    )
    return parser


def _stop_when_stdin_closes() -> None:
    """The job server gives its export child a pipe on stdin and never writes to it, so the end of stdin means
    the server is gone (killed, crashed): the export stops then, instead of running on, converter included,
    until its next write fails. A KeyboardInterrupt lets the export clean its staging folder (subprocess.run
    kills the converter on it); one still alive 30 s later is killed with its process group."""

    def watch() -> None:
        # The raw descriptor, not sys.stdin.buffer: a daemon thread blocked inside a buffered read holds its
        # lock, and the interpreter aborts at exit when it cannot take that lock.
        try:
            while os.read(0, 1 << 16):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
        if os.getpgrp() == os.getpid():  # started in a session of its own, as the server does
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def export_command(args: argparse.Namespace) -> int:
    if args.exit_with_parent:
        _stop_when_stdin_closes()
    events = JsonLineWriter(stream=sys.stdout) if args.events else None
    real_stdout = sys.stdout
    if events is not None:
        sys.stdout = sys.stderr  # library prints must not corrupt the event stream

    def progress(stage: str, fraction: float, message: str) -> None:
        if events is not None:
            events.write({"type": "export_progress", "stage": stage, "fraction": round(fraction, 3), "message": message})
        else:
            note(f"export: {message}")

    options = ExportOptions(
        adapter=Path(args.adapter),
        out=Path(args.out),
        base=args.base,
        merge=args.merge,
        ollama=args.ollama,
        gguf=args.gguf,
        llama_cpp=Path(args.llama_cpp) if args.llama_cpp else None,
        system=args.system,
        config=Path(args.config) if args.config else None,
        max_shard_size=args.max_shard_size,
        gguf_type=args.gguf_type,
        trust_remote_code=args.trust_remote_code,
    )
    try:
        summary = run_export(options, progress)
    except TrainerError as exc:
        if events is not None:
            events.write({"type": "export_error", "code": exc.code, "message": exc.message})
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    finally:
        sys.stdout = real_stdout
    if events is not None:
        events.write({"type": "export_done", **summary})
    else:
        print(json.dumps(summary, indent=2))
    return 0
