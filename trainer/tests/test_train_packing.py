"""packing: true flattens a batch into one row with restarting position ids; records must not see each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelfactory_trainer.data import Example, encode_example


def test_flattened_records_attend_only_to_themselves(tiny_model_dir: Path, tiny_tokenizer: Any) -> None:
    import torch
    from transformers import AutoModelForCausalLM, DataCollatorWithFlattening

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    records = [
        encode_example(tiny_tokenizer, Example.of_messages("a", (("user", "What is 1 plus 2?"), ("assistant", "3."))), 64),
        encode_example(tiny_tokenizer, Example.of_text("b", "The team checks the code every morning."), 64),
    ]
    assert all(record is not None for record in records)
    packed = DataCollatorWithFlattening()([{k: r[k] for k in ("input_ids", "labels")} for r in records if r])
    with torch.no_grad():
        # use_cache=False as in training: a KV cache turns off packed-sequence detection.
        packed_logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits[0]
        alone = [model(input_ids=torch.tensor([r["input_ids"]])).logits[0] for r in records if r]
    first_length = alone[0].shape[0]
    assert torch.allclose(packed_logits[:first_length], alone[0], atol=1e-5)
    assert torch.allclose(packed_logits[first_length:], alone[1], atol=1e-5)
