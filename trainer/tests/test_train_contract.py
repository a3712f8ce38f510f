"""Training on what the record contract accepts: every accepted conversation of the conformance corpus (tool
calls, weight 0, legacy functions, ShareGPT function_call, alpaca with history, text) trains through the
chatml template with its tools; preference data ends the job with a typed error in the contract's words."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import parse_events, run_trainer, write_config, write_jsonl

CORPUS = Path(__file__).resolve().parents[2] / "test" / "conformance" / "records.jsonl"


def _accepted(kinds: set[str]) -> list[dict]:
    entries = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e["record"] for e in entries if "example" in e and e["example"]["kind"] in kinds and "media" not in e["example"]]


def _job(directory: Path, records: list[dict], extra: str = "") -> Path:
    write_jsonl(directory / "data.jsonl", records)
    return write_config(
        directory,
        "base_model: builtin:tiny-llama\nmethod: lora\nchat_template: chatml\n"
        f"{extra}dataset: {{path: data.jsonl, eval_split: 0}}\n"
        "training: {max_steps: 2, batch_size: 2, gradient_accumulation_steps: 1, max_seq_length: 512, logging_steps: 1}\n"
        "output_dir: out\n",
    )


def test_every_accepted_conversation_of_the_corpus_trains(tmp_path: Path, tiny_model_dir: Path) -> None:
    records = _accepted({"sft", "text"})
    assert len(records) >= 8
    completed = run_trainer("train", str(_job(tmp_path, records)))
    events = parse_events(completed.stdout)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert events[-1]["type"] == "done" and events[-1]["steps"] == 2
    assert (tmp_path / "out" / "adapter" / "adapter_model.safetensors").is_file()


def test_preference_records_end_an_sft_job_with_the_contract_words(tmp_path: Path, tiny_model_dir: Path) -> None:
    completed = run_trainer("train", str(_job(tmp_path, _accepted({"preference"}))))
    events = parse_events(completed.stdout)
    assert completed.returncode == 1
    assert events[-1]["type"] == "error" and events[-1]["code"] == "dataset"
    assert "preference records train with objective dpo, not sft" in events[-1]["message"]
