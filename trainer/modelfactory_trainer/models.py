"""Where a base model comes from (builtin, local folder, or the local Hugging Face cache) and how it loads.

Weights load from safetensors only; nothing is fetched from the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelError
from .tiny import BUILTIN_PREFIX, TINY_LLAMA_ID, ensure_tiny_llama


def resolve_model_source(spec: str) -> str:
    """A local path for builtin models and folders; a Hugging Face id is returned as is (cache only)."""
    if spec.startswith(BUILTIN_PREFIX):
        if spec != TINY_LLAMA_ID:
            raise ModelError(f"unknown built-in model {spec!r} (available: {TINY_LLAMA_ID})")
        return str(ensure_tiny_llama())
    candidate = Path(spec).expanduser()
    if candidate.is_dir():
        return str(candidate.resolve())
    if spec.startswith((".", "/", "~")) or candidate.suffix:
        raise ModelError(f"model folder {spec!r} does not exist")
    return spec


def _explain_load_failure(spec: str, exc: Exception) -> ModelError:
    if Path(spec).is_dir():
        return ModelError(f"cannot load the model in {spec}: {exc}")
    return ModelError(
        f"{spec!r} is not in the local Hugging Face cache (downloads are off); fetch it first, e.g. "
        f"`hf download {spec}`, or point base_model at a local folder. Details: {exc}"
    )


def load_tokenizer(source: str, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise _explain_load_failure(source, exc) from exc
    if tokenizer.pad_token is None:
        # Padding positions are masked out of attention and loss, so any known token will do.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(source: str, trust_remote_code: bool, **kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(
            source, local_files_only=True, use_safetensors=True, trust_remote_code=trust_remote_code, **kwargs
        )
    except (OSError, ValueError) as exc:
        raise _explain_load_failure(source, exc) from exc


ADAPTER_CHAT_TEMPLATE = "chat_template.jinja"


def adapter_chat_template(adapter_dir: Path) -> str | None:
    """The chat template an adapter was trained with (`chat_template.jinja` in its folder), or None. When the
    folder has the trainer's sha256 manifest, the template must be listed in it with the same hash."""
    import hashlib
    import json

    path = adapter_dir / ADAPTER_CHAT_TEMPLATE
    if not path.is_file():
        return None
    data = path.read_bytes()
    manifest = adapter_dir / "adapter.sha256.json"
    if manifest.is_file():
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8")).get(ADAPTER_CHAT_TEMPLATE)
        except (ValueError, AttributeError):
            listed = None
        if listed != hashlib.sha256(data).hexdigest():
            raise ModelError(f"{path} does not match {manifest.name}: the adapter folder was changed after training")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path} is not UTF-8 text") from exc


def check_adapter_dir(adapter_dir: str | Path) -> Path:
    """Adapters load from safetensors only: a folder without adapter_model.safetensors is refused."""
    path = Path(adapter_dir).expanduser().resolve()
    if not (path / "adapter_config.json").is_file():
        raise ModelError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
    if not (path / "adapter_model.safetensors").is_file():
        raise ModelError(f"{path} has no adapter_model.safetensors (only safetensors adapters are loaded)")
    return path
