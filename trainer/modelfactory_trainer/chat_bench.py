"""Streaming overhead and time to first token, measured against plain `generate` in the same run.

    python -m modelfactory_trainer.chat_bench [--base MODEL] [--adapter DIR] [--tokens N] [--repeats R]

Prints one JSON line: medians of plain greedy `generate` and of the chat engine's streamed generation
(same prompt, greedy, so the same tokens: both counts are printed), their ratio, and the streamed run's
time to first token.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelfactory_trainer.chat_bench")
    parser.add_argument("--base", default="builtin:tiny-llama")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    import torch

    from .chat import ChatEngine, GenerationParams
    from .data import render_chat

    engine = ChatEngine()
    engine.prepare(args.base, args.adapter)
    messages = [("user", "Write a long story about a river.")]
    params = GenerationParams(max_new_tokens=args.tokens, temperature=0.0)
    prompt = render_chat(engine.tokenizer, messages, add_generation_prompt=True, chat_template=engine.chat_template(args.adapter))
    inputs = engine.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(engine.model.device)

    def synchronize() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    first_token_ms: list[float] = []
    plain_counts: list[int] = []
    streamed_counts: list[int] = []

    def plain() -> float:
        synchronize()
        started = time.perf_counter()
        with torch.inference_mode(), engine._adapter_context(args.adapter):
            sequences = engine.model.generate(
                **inputs, max_new_tokens=args.tokens, do_sample=False,
                temperature=None, top_p=None, top_k=None, pad_token_id=engine.tokenizer.pad_token_id,
            )
        synchronize()
        plain_counts.append(int(sequences.shape[1] - inputs["input_ids"].shape[1]))
        return time.perf_counter() - started

    def streamed() -> float:
        synchronize()
        started = time.perf_counter()
        result = engine.generate(messages, args.adapter, params, threading.Event(), lambda _text: None)
        synchronize()
        first_token_ms.append(result.time_to_first_token_ms)
        streamed_counts.append(result.tokens)
        return time.perf_counter() - started

    plain(), streamed()  # warm-up
    plain_times, streamed_times = [], []
    for _ in range(args.repeats):
        plain_times.append(plain())
        streamed_times.append(streamed())
    plain_median, streamed_median = statistics.median(plain_times), statistics.median(streamed_times)
    print(json.dumps({
        "base": args.base,
        "device": str(engine.model.device),
        "tokens_requested": args.tokens,
        "plain_tokens": plain_counts[-1],
        "streamed_tokens": streamed_counts[-1],
        "plain_seconds_median": plain_median,
        "streamed_seconds_median": streamed_median,
        "streamed_over_plain": streamed_median / plain_median,
        "time_to_first_token_ms_median": statistics.median(first_token_ms),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
