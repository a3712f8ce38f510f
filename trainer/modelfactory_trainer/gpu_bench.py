"""LoRA / QLoRA training throughput on one GPU, against a plain PEFT + transformers Trainer baseline in the same run.

    python -m modelfactory_trainer.gpu_bench --model {qwen2.5-0.5b,llama-8b,tiny} [--method lora|qlora|both]
        [--steps N] [--seq N] [--batch N] [--json OUT]

The model is RANDOMLY INITIALISED from a config of the real architecture and size (nothing is downloaded): the
speed and memory of a training step do not depend on the values of the weights. Every step trains on packed
random token sequences: `batch x seq` real tokens, no padding, no attention mask.

Two loops train the same model, adapters, data and step count, one after the other:
- `lean`: the loop the product's trainer should approach: a bf16 base, fused AdamW on the adapters only, packed
  sequences straight from GPU memory, no mask, no per-step host work beyond one synchronisation for timing;
- `peft_trainer`: the usual recipe, `peft.get_peft_model` + `transformers.Trainer` with default arguments
  (bf16 autocast, its data loader and collator).
QLoRA runs too when bitsandbytes imports and CUDA is present (the random model is saved once as safetensors and
reloaded with a 4-bit BitsAndBytesConfig, since quantization happens at load time).

FLOPs and MFU. The convention of the published LoRA figures (and PERF.md's anchors), PaLM's appendix B:
    flops_per_token = 6 * N + 12 * n_layers * d_model * seq
N is the base model's parameter count without the input embedding (a lookup, no matmul) but with the output
head (a matmul, counted even when tied to the embedding); the second term is attention's scores and values.
MFU = flops_per_token * tokens_per_second / peak bf16 dense FLOP/s of the GPU (a table by device name, or
--peak-tflops). With a frozen base the weight-gradient third of 6N is not computed, so this MFU flatters LoRA
by up to 1.5x compared with the work really done; it is reported because it is what the field compares.

Memory: torch.cuda.max_memory_allocated per loop (reset before the model is built) against the language server's
estimate (`node <repo>/bin/modelfactory.js estimate CONFIG --json` on a config of the same run; its fixed 1 GiB for
the CUDA context and allocator slack is not in max_memory_allocated, so the comparison leaves it out).

On a CPU (`--model tiny --steps 2`) everything runs except the GPU-only figures, which are reported as null.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tiny import TINY_LLAMA_ID, TINY_LLAMA_SHAPE

REPO = Path(__file__).resolve().parents[2]
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class BenchModel:
    model_type: str
    catalog_id: str
    dims: dict[str, Any]


MODELS: dict[str, BenchModel] = {
    "qwen2.5-0.5b": BenchModel(
        "qwen2",
        "Qwen/Qwen2.5-0.5B",
        dict(
            hidden_size=896,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            intermediate_size=4864,
            vocab_size=151936,
            max_position_embeddings=32768,
            rope_theta=1000000.0,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
        ),
    ),
    "llama-8b": BenchModel(
        "llama",
        "meta-llama/Meta-Llama-3-8B",
        dict(
            hidden_size=4096,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            intermediate_size=14336,
            vocab_size=128256,
            max_position_embeddings=8192,
            rope_theta=500000.0,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
        ),
    ),
    "tiny": BenchModel("llama", TINY_LLAMA_ID, dict(TINY_LLAMA_SHAPE)),
}

# Dense bf16 tensor-core peaks (no sparsity), TFLOP/s; the first matching name wins.
PEAK_BF16_TFLOPS: list[tuple[tuple[str, ...], float]] = [
    (("H100", "PCIE"), 756.0),
    (("H100", "NVL"), 835.0),
    (("H100",), 989.0),
    (("H200",), 989.0),
    (("GH200",), 989.0),
    (("A100",), 312.0),
    (("L40S",), 362.0),
    (("L4",), 121.0),
    (("A10",), 125.0),
]


def peak_tflops_for(device_name: str) -> float | None:
    upper = device_name.upper()
    for needles, tflops in PEAK_BF16_TFLOPS:
        if all(needle in upper for needle in needles):
            return tflops
    return None


def model_config(spec: BenchModel) -> Any:
    from transformers import AutoConfig

    return AutoConfig.for_model(spec.model_type, torch_dtype="bfloat16", **spec.dims)


def parameter_counts(spec: BenchModel) -> dict[str, int]:
    """Counted on the meta device: no memory, no time."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config(spec))
    total = sum(parameter.numel() for parameter in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    head = spec.dims["vocab_size"] * spec.dims["hidden_size"]
    tied = bool(spec.dims.get("tie_word_embeddings"))
    return {"total": total, "flop_counted": total - embedding + (head if tied else 0)}


def flops_per_token(spec: BenchModel, flop_params: int, seq: int) -> float:
    layers, width = int(spec.dims["num_hidden_layers"]), int(spec.dims["hidden_size"])
    return 6.0 * flop_params + 12.0 * layers * width * seq


def lora_config(rank: int) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM")


def build_model(
    spec: BenchModel, method: str, device: str, quantized_source: Path | None, grad_ckpt: bool, rank: int
) -> Any:
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        assert quantized_source is not None
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        model = AutoModelForCausalLM.from_pretrained(
            quantized_source, quantization_config=quantization, dtype=torch.bfloat16, device_map={"": 0}
        )
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=grad_ckpt)
    else:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(model_config(spec), dtype=torch.bfloat16)
        if grad_ckpt:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
    model.config.use_cache = False
    return get_peft_model(model, lora_config(rank))


def random_batches(vocab: int, batch: int, seq: int, count: int, device: str) -> list[Any]:
    import torch

    generator = torch.Generator().manual_seed(1234)
    return [torch.randint(0, vocab, (batch, seq), generator=generator).to(device) for _ in range(count)]


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def run_lean(model: Any, batches: list[Any], steps: int, device: str) -> tuple[list[float], list[float]]:
    import torch

    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=2e-4, fused=device == "cuda")
    model.train()
    step_seconds: list[float] = []
    losses: list[float] = []
    for step in range(steps):
        input_ids = batches[step % len(batches)]
        synchronize(device)
        started = time.perf_counter()
        loss = model(input_ids=input_ids, labels=input_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        step_seconds.append(time.perf_counter() - started)
        losses.append(float(loss.detach()))
    return step_seconds, losses


def run_peft_trainer(
    model: Any, batches: list[Any], steps: int, device: str, grad_ckpt: bool, work_dir: Path
) -> tuple[list[float], list[float]]:
    from transformers import Trainer, TrainerCallback, TrainingArguments

    rows = [{"input_ids": row.cpu(), "labels": row.cpu()} for batch in batches for row in batch]
    step_seconds: list[float] = []
    losses: list[float] = []

    class StepTimer(TrainerCallback):
        started = 0.0

        def on_step_begin(self, *_args: Any, **_kwargs: Any) -> None:
            synchronize(device)
            self.started = time.perf_counter()

        def on_step_end(self, *_args: Any, **_kwargs: Any) -> None:
            synchronize(device)
            step_seconds.append(time.perf_counter() - self.started)

        def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            logs = kwargs.get("logs")
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    arguments = TrainingArguments(
        output_dir=str(work_dir / "trainer-baseline"),
        per_device_train_batch_size=batches[0].shape[0],
        max_steps=steps,
        learning_rate=2e-4,
        bf16=device == "cuda",
        use_cpu=device != "cuda",
        gradient_checkpointing=grad_ckpt,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=rows, callbacks=[StepTimer()])
    trainer.train()
    return step_seconds, losses


def release(device: str) -> None:
    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


def language_server_estimate(
    spec: BenchModel, method: str, args: argparse.Namespace, work_dir: Path
) -> dict[str, Any] | str:
    cli = REPO / "bin" / "modelfactory.js"
    node = shutil.which("node")
    if node is None or not cli.exists() or not (REPO / "dist" / "cli" / "main.js").exists():
        return "estimate unavailable (node or the built CLI is missing)"
    config = work_dir / f"bench-{method}.finetune.yaml"
    lines = [
        f"base_model: {spec.catalog_id}",
        f"method: {method}",
        "dataset:",
        "  path: bench.jsonl",
        "lora:",
        f"  r: {args.rank}",
        f"  alpha: {2 * args.rank}",
        "  dropout: 0.0",
        f"  target_modules: [{', '.join(LORA_TARGETS)}]",
    ]
    if method == "qlora":
        lines += ["quantization:", "  bits: 4", "  type: nf4", "  double_quant: true"]
    lines += [
        "training:",
        f"  batch_size: {args.batch}",
        "  gradient_accumulation_steps: 1",
        f"  max_seq_length: {args.seq}",
        "  precision: bf16",
        f"  gradient_checkpointing: {'true' if args.grad_ckpt else 'false'}",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        done = subprocess.run(
            [node, str(cli), "estimate", str(config), "--json"], capture_output=True, text=True, timeout=120
        )
        result = json.loads(done.stdout)
        estimate = result["estimate"]
        fixed = int(estimate.get("parts", {}).get("overhead", 0))
        return {
            "total_bytes": int(estimate["totalBytes"]),
            "fixed_overhead_bytes": fixed,
            "parts": estimate.get("parts", {}),
        }
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        return f"estimate unavailable ({type(exc).__name__}: {exc})"[:300]


def summarise(
    variant: str,
    method: str,
    step_seconds: list[float],
    losses: list[float],
    warmup: int,
    tokens_per_step: int,
    flops_token: float,
    peak_flops: float | None,
    device: str,
) -> dict[str, Any]:
    import torch

    measured = step_seconds[warmup:] or step_seconds
    tokens_per_second = tokens_per_step * len(measured) / sum(measured)
    mfu = flops_token * tokens_per_second / peak_flops if peak_flops else None
    return {
        "variant": variant,
        "method": method,
        "steps_timed": len(measured),
        "step_seconds_median": statistics.median(measured),
        "tokens_per_second": tokens_per_second,
        "mfu": mfu,
        "peak_allocated_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved() if device == "cuda" else None,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
    }


def bitsandbytes_problem(device: str) -> str | None:
    if device != "cuda":
        return "QLoRA needs CUDA"
    try:
        import bitsandbytes  # noqa: F401
    except Exception as exc:  # bitsandbytes raises assorted errors when its CUDA library does not load
        return f"bitsandbytes does not import: {exc}"[:300]
    return None


def run_benchmark(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    import torch

    spec = MODELS[args.model]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu_name = torch.cuda.get_device_name(0) if device == "cuda" else None
    peak_tflops = args.peak_tflops or (peak_tflops_for(gpu_name) if gpu_name else None)
    peak_flops = peak_tflops * 1e12 if peak_tflops else None
    counts = parameter_counts(spec)
    flops_token = flops_per_token(spec, counts["flop_counted"], args.seq)
    warmup = min(args.warmup, max(args.steps - 1, 0))
    tokens_per_step = args.batch * args.seq
    methods = ["lora", "qlora"] if args.method == "both" else [args.method]
    report: dict[str, Any] = {
        "model": args.model,
        "architecture": spec.model_type,
        "catalog_id": spec.catalog_id,
        "device": device,
        "gpu": gpu_name,
        "peak_bf16_tflops": peak_tflops,
        "torch": torch.__version__,
        "params_total": counts["total"],
        "params_flop_counted": counts["flop_counted"],
        "flops_per_token": flops_token,
        "flop_formula": "6 * N + 12 * n_layers * d_model * seq (N: parameters less the input embedding, with the head)",
        "seq": args.seq,
        "batch": args.batch,
        "steps": args.steps,
        "warmup_steps": warmup,
        "lora_rank": args.rank,
        "lora_targets": LORA_TARGETS,
        "gradient_checkpointing": args.grad_ckpt,
        "runs": [],
        "ratios": {},
        "memory_vs_estimate": {},
        "skipped": {},
    }
    with tempfile.TemporaryDirectory(prefix="mf-gpu-bench-") as temp:
        work_dir = Path(temp)
        batches = random_batches(spec.dims["vocab_size"], args.batch, args.seq, max(args.steps, 1), device)
        for method in methods:
            if method == "qlora":
                problem = bitsandbytes_problem(device)
                if problem is not None:
                    report["skipped"]["qlora"] = problem
                    say(f"qlora skipped: {problem}")
                    continue
            source = None
            if method == "qlora":
                source = work_dir / "random-model"
                say("saving the random model for the 4-bit reload")
                with torch.device(device):
                    from transformers import AutoModelForCausalLM

                    full = AutoModelForCausalLM.from_config(model_config(spec), dtype=torch.bfloat16)
                full.save_pretrained(source, safe_serialization=True)
                del full
                release(device)
            results: dict[str, dict[str, Any]] = {}
            for variant in ("lean", "peft_trainer"):
                release(device)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                say(f"{method} / {variant}: building {args.model}")
                model = build_model(spec, method, device, source, args.grad_ckpt, args.rank)
                if variant == "lean":
                    seconds, losses = run_lean(model, batches, args.steps, device)
                else:
                    seconds, losses = run_peft_trainer(model, batches, args.steps, device, args.grad_ckpt, work_dir)
                summary = summarise(
                    variant, method, seconds, losses, warmup, tokens_per_step, flops_token, peak_flops, device
                )
                summary["params_trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
                results[variant] = summary
                report["runs"].append(summary)
                say(
                    f"{method} / {variant}: {summary['tokens_per_second']:.1f} tokens/s"
                    + (f", MFU {summary['mfu']:.1%}" if summary["mfu"] is not None else "")
                    + (
                        f", peak {summary['peak_allocated_bytes'] / 2**30:.2f} GiB"
                        if summary["peak_allocated_bytes"]
                        else ""
                    )
                )
                del model
            lean_peak, baseline_peak = (
                results["lean"]["peak_allocated_bytes"],
                results["peft_trainer"]["peak_allocated_bytes"],
            )
            report["ratios"][method] = {
                "lean_over_peft_trainer_tokens_per_second": results["lean"]["tokens_per_second"]
                / results["peft_trainer"]["tokens_per_second"],
                "lean_over_peft_trainer_peak_memory": lean_peak / baseline_peak
                if lean_peak and baseline_peak
                else None,
            }
            estimate = language_server_estimate(spec, method, args, work_dir)
            if isinstance(estimate, str):
                report["memory_vs_estimate"][method] = estimate
                say(estimate)
            else:
                comparable = estimate["total_bytes"] - estimate["fixed_overhead_bytes"]
                measured = results["lean"]["peak_allocated_bytes"]
                estimate["comparable_bytes"] = comparable
                estimate["measured_lean_peak_allocated_bytes"] = measured
                estimate["measured_over_estimate"] = measured / comparable if measured and comparable else None
                report["memory_vs_estimate"][method] = estimate
            if source is not None:
                shutil.rmtree(source, ignore_errors=True)
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modelfactory_trainer.gpu_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--method", choices=["lora", "qlora", "both"], default="both")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per loop")
    parser.add_argument("--warmup", type=int, default=2, help="first steps left out of the timing")
    parser.add_argument("--seq", type=int, default=2048, help="tokens per packed sequence")
    parser.add_argument("--batch", type=int, default=1, help="sequences per step")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank (alpha = 2 x rank)")
    parser.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing in both loops")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="the GPU's bf16 dense peak, if not in the table"
    )
    parser.add_argument("--json", dest="json_out", default=None, help="write the report here as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 1 or args.seq < 2 or args.batch < 1:
        print("--steps and --batch must be at least 1, --seq at least 2", file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # The Trainer prints its log dicts to stdout; stdout is for the report alone.
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        report = run_benchmark(args, say)
    finally:
        sys.stdout = real_stdout
    text = json.dumps(report, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
