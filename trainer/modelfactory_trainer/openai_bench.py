"""`serve --openai` under load, measured with the official `openai` client against a floor from the same run.

    python -m modelfactory_trainer.openai_bench [--base MODEL] [--adapter DIR] [--clients 20] [--tokens 32]

Starts the real server (`serve --openai --no-websocket`, a fresh token, a temporary state folder), warms the
chat worker, then prints one JSON line:
- `sequential`: the same requests one after another from one client (the floor);
- `concurrent`: `--clients` streaming clients at once (AsyncOpenAI), tokens/s, errors, `mismatched` (streams whose
  text differs from the same greedy request answered alone: cross-talk between clients), the median time to first
  token each client saw (queueing included), and the ratio of its throughput to the floor's;
- with `--adapter`: `warm_adapter_ttft_ms` (median time to the first streamed token with the adapter already
  attached) and `swap_ms` (median extra time of a request that switches between base and adapter over one that
  does not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence


def _start(args: argparse.Namespace, token: str, state: str) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, "-m", "modelfactory_trainer", "serve", "--host", "127.0.0.1", "--port", "0",
            "--state-dir", state, "--openai", "--no-websocket", "--openai-base", args.base]
    if args.adapter:
        argv += ["--adapter", f"bench-adapter={args.adapter}"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env={**os.environ, "MODELFACTORY_TOKEN": token})
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, f"http://127.0.0.1:{line}/v1"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelfactory_trainer.openai_bench")
    parser.add_argument("--base", default="builtin:tiny-llama")
    parser.add_argument("--adapter", default=None, help="an adapter folder on --base, for swap and warm-adapter timings")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args(argv)
    import openai

    token = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="mf-openai-bench-") as state:
        process, base_url = _start(args, token, state)
        try:
            result = _measure(openai, base_url, token, args)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    print(json.dumps(result))
    return 0 if result["concurrent"]["errors"] == 0 and result["concurrent"]["mismatched"] == 0 else 1


def _prompt(index: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is {index % 9 + 1} plus {index % 7 + 2}?"}]


def _measure(openai: Any, base_url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=600)
    # The run's generations all stop at --tokens: `ignore_eos` is not an OpenAI field, so a long, fixed budget
    # and greedy decoding keep the work per request comparable.
    options = {"temperature": 0, "max_tokens": args.tokens}
    client.chat.completions.create(model=args.base, messages=_prompt(0), **options)  # warm the worker

    def ask(model: str, index: int) -> tuple[int, str]:
        reply = client.chat.completions.create(model=model, messages=_prompt(index), **options)
        return int(reply.usage.completion_tokens), reply.choices[0].message.content or ""

    started = time.perf_counter()
    alone = [ask(args.base, index) for index in range(args.clients)]
    sequential_tokens = sum(tokens for tokens, _ in alone)
    sequential_s = time.perf_counter() - started

    async def stream(api: Any, model: str, index: int) -> tuple[int, float, str]:
        begun = time.perf_counter()
        first: float | None = None
        tokens = 0
        pieces: list[str] = []
        response = await api.chat.completions.create(
            model=model, messages=_prompt(index), stream=True, stream_options={"include_usage": True}, **options
        )
        async for chunk in response:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                if first is None:
                    first = time.perf_counter()
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
        return tokens, ((first or time.perf_counter()) - begun) * 1000.0, "".join(pieces)

    async def concurrent() -> tuple[list[Any], float]:
        async with openai.AsyncOpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=600) as api:
            begun = time.perf_counter()
            outcomes = await asyncio.gather(
                *(stream(api, args.base, index) for index in range(args.clients)), return_exceptions=True
            )
            return list(outcomes), time.perf_counter() - begun

    outcomes, concurrent_s = asyncio.run(concurrent())
    good = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    concurrent_tokens = sum(tokens for tokens, _, _ in good)
    # Greedy decoding: each stream must say what its request said alone.
    mismatched = sum(
        1 for outcome, (_, text) in zip(outcomes, alone) if not isinstance(outcome, BaseException) and outcome[2] != text
    )
    floor_rate = sequential_tokens / sequential_s
    rate = concurrent_tokens / concurrent_s
    result: dict[str, Any] = {
        "base": args.base,
        "clients": args.clients,
        "max_tokens": args.tokens,
        "sequential": {"tokens": sequential_tokens, "seconds": round(sequential_s, 3),
                       "tokens_per_second": round(floor_rate, 1)},
        "concurrent": {"tokens": concurrent_tokens, "seconds": round(concurrent_s, 3),
                       "tokens_per_second": round(rate, 1), "errors": len(outcomes) - len(good),
                       "mismatched": mismatched,
                       "median_ttft_ms": round(statistics.median(ttft for _, ttft, _ in good), 1) if good else None,
                       "ratio_to_sequential": round(rate / floor_rate, 3)},
    }
    if args.adapter:
        result.update(_adapter_timings(openai, base_url, token, args, options))
    return result


def _adapter_timings(openai: Any, base_url: str, token: str, args: argparse.Namespace,
                     options: dict[str, Any]) -> dict[str, Any]:
    client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=600)
    one = {**options, "max_tokens": 1}

    def timed(model: str) -> float:
        begun = time.perf_counter()
        client.chat.completions.create(model=model, messages=_prompt(1), **one)
        return (time.perf_counter() - begun) * 1000.0

    timed("bench-adapter")  # attaches the adapter once
    same = [timed("bench-adapter") for _ in range(9)]
    switching = [timed(args.base if index % 2 else "bench-adapter") for index in range(10)]

    def first_token() -> float:
        begun = time.perf_counter()
        for chunk in client.chat.completions.create(model="bench-adapter", messages=_prompt(2), stream=True, **options):
            if chunk.choices and chunk.choices[0].delta.content:
                return (time.perf_counter() - begun) * 1000.0
        return (time.perf_counter() - begun) * 1000.0

    ttft = [first_token() for _ in range(5)]
    return {
        "warm_adapter_ttft_ms": round(statistics.median(ttft), 1),
        "one_token_same_model_ms": round(statistics.median(same), 1),
        "one_token_switching_ms": round(statistics.median(switching), 1),
        "swap_ms": round(statistics.median(switching) - statistics.median(same), 1),
    }


if __name__ == "__main__":
    sys.exit(main())
