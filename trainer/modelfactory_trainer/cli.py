"""Command line: `train`, `check`, `eval`, `record-loss`, `golden`, `chat`, `export`, `chat-worker` (and `serve`, owned by the job server module)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modelfactory_trainer", description="ModelFactory trainer")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="run one fine-tuning job; JSON events on stdout")
    train.add_argument("config", help="a *.finetune.yaml file")
    train.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    train.add_argument("--max-steps", type=_positive_int, default=None, help="stop after N optimizer steps")

    chat = commands.add_parser("chat", help="generate one reply, streamed to stdout")
    chat.add_argument("--base", required=True, help="builtin:tiny-llama, a local folder, or a cached HF id")
    chat.add_argument("--adapter", default=None, help="a PEFT adapter folder (safetensors)")
    chat.add_argument("--system", default=None, help="system prompt")
    chat.add_argument("--prompt", required=True, help="the user message")
    chat.add_argument("--max-new-tokens", type=_positive_int, default=256)
    chat.add_argument("--temperature", type=float, default=0.7, help="0 decodes greedily")
    chat.add_argument("--top-p", type=float, default=0.95)
    chat.add_argument("--top-k", type=int, default=50)
    chat.add_argument("--repetition-penalty", type=float, default=1.0)
    chat.add_argument("--seed", type=int, default=None)
    chat.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    chat.add_argument("--trust-remote-code", action="store_true", help="run the model repository's code")

    check = commands.add_parser("check", help="load and render every record of a job's dataset as train would (tokenizer only)")
    check.add_argument("config", help="a *.finetune.yaml file")
    check.add_argument("--json", action="store_true", help="the report as JSON")
    check.add_argument("--show", type=int, default=0, metavar="N", help="print N rendered examples, trained tokens marked")

    from .export import build_parser as export_arguments

    export_arguments(commands.add_parser("export", help="merge an adapter / write a model folder, Modelfile, GGUF"))

    from .evaluate import add_arguments as add_eval_arguments

    add_eval_arguments(commands.add_parser("eval", help="answer a held-out set with the base and each adapter, and score the answers"))

    from .record_loss import add_arguments as add_record_loss_arguments

    add_record_loss_arguments(commands.add_parser("record-loss", help="each training record's loss under an adapter and the base: record-loss.jsonl"))

    from .golden import add_arguments as add_golden_arguments

    add_golden_arguments(commands.add_parser("golden", help="run a *.evals.yaml of golden prompts against the base and adapters (JUnit XML for CI)"))

    commands.add_parser("chat-worker", help="JSON-lines generation worker on stdin/stdout (used by the job server)")
    # Listed for --help only: `serve` is dispatched to the job server's own parser before this one runs.
    commands.add_parser("serve", help="the WebSocket job server (see serve --help)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "serve":
        from . import server

        return int(server.main(arguments[1:]))
    args = build_parser().parse_args(arguments)
    from .hub_download import apply_download_policy

    apply_download_policy()
    if args.command == "train":
        from .train import train_command

        return train_command(args.config, args.resume, args.max_steps)
    if args.command == "check":
        from .check import check_command

        return check_command(args.config, args.json, max(0, args.show))
    if args.command == "golden":
        from .golden import golden_command

        return golden_command(args)
    if args.command == "record-loss":
        from .record_loss import record_loss_command

        return record_loss_command(args)
    if args.command == "eval":
        from .evaluate import eval_command

        return eval_command(args)
    if args.command == "chat":
        from .chat import chat_command

        return chat_command(args)
    if args.command == "export":
        from .export import export_command

        return export_command(args)
    from .chat import worker_main

    return worker_main()
