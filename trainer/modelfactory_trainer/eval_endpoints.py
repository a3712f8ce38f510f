"""Models behind OpenAI-compatible endpoints as contestants of `eval` (vLLM, Ollama, llama.cpp's server, our own
`serve --openai`, a hosted API): `--endpoint URL --model NAME [--api-key-env VAR]`, repeatable.

An endpoint answers each held-out prompt through the official `openai` client (the one the judge uses), greedily
(temperature 0) and streamed, so a cancel stops it between tokens. The endpoint applies its own chat template,
not the one training used: compare like with like by serving the same model (for our server, the adapter itself).
There is no loss: an endpoint does not return the reference answer's token probabilities, so a row's `loss` is
null and the model's summary says why instead of a number. The key is read from the environment variable
`--api-key-env` names, never from the command line.
"""

from __future__ import annotations

import argparse
import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError, ModelError

LOSS_NOTE = "not available from an endpoint: it returns no token probabilities for the reference answer"
MAX_ENDPOINTS = 16


@dataclass(frozen=True)
class EndpointTarget:
    url: str
    model: str
    key_env: str | None

    @property
    def host(self) -> str:
        return urlparse(self.url).netloc or self.url


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("OpenAI-compatible endpoints (answers scored beside or instead of local models)")
    group.add_argument("--endpoint", action="append", default=[], metavar="URL",
                       help="an OpenAI-compatible base URL (…/v1) whose model answers too (repeatable; pairs with --model)")
    group.add_argument("--model", action="append", default=[], metavar="NAME",
                       help="the endpoint's model, one per --endpoint in order (several after one --endpoint: its models)")
    group.add_argument("--api-key-env", action="append", default=[], metavar="VAR",
                       help="the environment variable holding the endpoint's key: one for all, or one per --endpoint")
    group.add_argument("--endpoints-only", action="store_true",
                       help="score only the endpoints: the base model and adapters are not loaded")


def endpoint_targets(args: argparse.Namespace) -> list[EndpointTarget]:
    """The endpoints of the command line, each with its model and key variable; ConfigError on a mismatch."""
    urls: list[str] = list(args.endpoint)
    models: list[str] = list(args.model)
    keys: list[str] = list(args.api_key_env)
    if not urls:
        if models or keys or args.endpoints_only:
            raise ConfigError("--model, --api-key-env and --endpoints-only go with --endpoint URL")
        return []
    if len(urls) == 1 and len(models) >= 1:
        urls = urls * len(models)
        keys = keys * len(models) if len(keys) == 1 else keys
    if len(models) != len(urls):
        raise ConfigError(f"give one --model per --endpoint ({len(urls)} endpoint(s), {len(models)} model(s))")
    if len(keys) == 1:
        keys = keys * len(urls)
    if keys and len(keys) != len(urls):
        raise ConfigError("give one --api-key-env for all endpoints, or one per --endpoint")
    if len(urls) > MAX_ENDPOINTS:
        raise ConfigError(f"at most {MAX_ENDPOINTS} endpoint models in one evaluation")
    targets = []
    for position, (url, model) in enumerate(zip(urls, models)):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"--endpoint {url!r}: an http(s) base URL such as http://127.0.0.1:8000/v1")
        if parsed.username or parsed.password or parsed.query:
            raise ConfigError(f"--endpoint {parsed.netloc}: no credentials or query in the URL; the key goes in --api-key-env")
        if not model.strip():
            raise ConfigError("--model must name a model")
        key_env = keys[position] if keys else None
        if key_env is not None and not os.environ.get(key_env):
            raise ConfigError(f"--api-key-env {key_env}: that environment variable is not set")
        targets.append(EndpointTarget(url.rstrip("/"), model, key_env))
    return targets


class EndpointModel:
    """One endpoint model answering held-out prompts greedily."""

    def __init__(self, target: EndpointTarget, timeout: float = 300.0) -> None:
        from openai import OpenAI

        self.target = target
        api_key = os.environ.get(target.key_env, "") if target.key_env else ""
        self.client = OpenAI(base_url=target.url, api_key=api_key or "none", timeout=timeout, max_retries=1)

    def check(self) -> None:
        """Fails before any answer when the endpoint cannot be reached or does not list the model."""
        try:
            served = [model.id for model in self.client.models.list()]
        except Exception as exc:
            raise ModelError(f"endpoint {self.target.host}: could not list its models: {type(exc).__name__}: {exc}") from exc
        if self.target.model not in served:
            shown = ", ".join(served[:10]) + (" …" if len(served) > 10 else "")
            raise ModelError(f"endpoint {self.target.host} does not serve model {self.target.model!r} (it serves: {shown or 'none'})")

    def answer(self, prompt: list[dict[str, Any]], tools: list[dict[str, Any]] | None, max_new_tokens: int,
               cancel: threading.Event, cancelled: type[Exception]) -> str:
        messages = [{"role": turn["role"], "content": turn.get("content") or ""} for turn in prompt]
        try:
            stream = self.client.chat.completions.create(
                model=self.target.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
                max_tokens=max_new_tokens,
                stream=True,
                **({"tools": tools} if tools else {}),
            )
            pieces: list[str] = []
            for chunk in stream:
                if cancel.is_set():
                    stream.close()
                    raise cancelled()
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
        except cancelled:
            raise
        except Exception as exc:
            raise ModelError(f"endpoint {self.target.host} model {self.target.model!r}: {type(exc).__name__}: {exc}") from exc
        return "".join(pieces).strip()
