"""Dataset reading, every record format, Datanet manifests, assistant-only masking on the real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import write_jsonl

from modelfactory_trainer.config import parse_config
from modelfactory_trainer.data import (
    check_objective,
    IGNORE_INDEX,
    Example,
    encode_example,
    load_examples,
    normalise,
    read_records,
    render_chat,
    split_train_eval,
)
from modelfactory_trainer.errors import DatasetError

CONVERSATION = (("system", "Be brief."), ("user", "What is 2 plus 2?"), ("assistant", "4."), ("user", "And 3 plus 3?"), ("assistant", "6."))

RECORDS_BY_FORMAT: dict[str, Any] = {
    "messages": {"messages": [{"role": role, "content": content} for role, content in CONVERSATION]},
    "sharegpt": {
        "conversations": [
            {"from": {"user": "human", "assistant": "gpt"}.get(role, role), "value": content} for role, content in CONVERSATION
        ]
    },
    "alpaca": {"instruction": "Add the numbers.", "input": "2 and 2", "output": "4."},
    "text": {"text": "Plain pretraining text."},
}


def _config_for(directory: Path, dataset: dict[str, Any]) -> Any:
    return parse_config({"base_model": "builtin:tiny-llama", "method": "lora", "dataset": dataset}, directory / "job.finetune.yaml")


@pytest.mark.parametrize("record_format", sorted(RECORDS_BY_FORMAT))
def test_every_format_loads_explicitly_and_by_detection(record_format: str) -> None:
    record = RECORDS_BY_FORMAT[record_format]
    explicit = normalise(record, record_format, "f:1")
    assert normalise(record, "auto", "f:1") == explicit
    if record_format == "text":
        assert explicit.text == "Plain pretraining text." and explicit.messages == ()
    elif record_format == "alpaca":
        assert explicit.messages == (("user", "Add the numbers.\n2 and 2"), ("assistant", "4."))
    else:
        assert explicit.messages == CONVERSATION


def test_jsonl_and_json_array_files_read_alike(tmp_path: Path) -> None:
    records = [RECORDS_BY_FORMAT["messages"], RECORDS_BY_FORMAT["alpaca"]]
    jsonl = write_jsonl(tmp_path / "a.jsonl", records)
    array = tmp_path / "a.json"
    array.write_text("\ufeff" + json.dumps(records, indent=2), encoding="utf-8")
    assert [record for _, record in read_records(jsonl)] == [record for _, record in read_records(array)] == records


def test_bad_records_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": \n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.jsonl:3: invalid JSON"):
        list(read_records(path))
    with pytest.raises(DatasetError, match=r"f:7: unknown record format"):
        normalise({"prompt": "x"}, "auto", "f:7")
    with pytest.raises(DatasetError, match="no assistant turn"):
        normalise({"messages": [{"role": "user", "content": "hi"}]}, "messages", "f:1")
    with pytest.raises(DatasetError, match="unknown role"):
        normalise({"messages": [{"role": "robot", "content": "hi"}]}, "messages", "f:1")
    # A preference pair loads; an sft job refuses it, in the record contract's words.
    pair = normalise({"prompt": "p", "chosen": "a", "rejected": "b"}, "auto", "f:1")
    with pytest.raises(DatasetError, match="preference records train with objective dpo"):
        check_objective([pair], "sft")


def test_datanet_manifest_loads_every_governed_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "support" / "data" / "a.jsonl", [RECORDS_BY_FORMAT["messages"]])
    write_jsonl(tmp_path / "support" / "data" / "more" / "b.jsonl", [RECORDS_BY_FORMAT["messages"]] * 2)
    write_jsonl(tmp_path / "support" / "elsewhere.jsonl", [RECORDS_BY_FORMAT["text"]])
    (tmp_path / "support" / "datanet.yaml").write_text(
        'name: support\nformat: messages\nfiles: ["data/**/*.jsonl"]\n', encoding="utf-8"
    )
    (tmp_path / "configs").mkdir()
    config = _config_for(tmp_path / "configs", {"datanet": "../support/datanet.yaml"})
    examples = load_examples(config)
    assert len(examples) == 3
    assert {Path(example.source.rsplit(":", 1)[0]).name for example in examples} == {"a.jsonl", "b.jsonl"}


def test_dataset_path_is_relative_to_the_config(tmp_path: Path, jsonl_writer: Callable[..., Path]) -> None:
    jsonl_writer([RECORDS_BY_FORMAT["text"]] * 3, name="data/train.jsonl")
    config = _config_for(tmp_path, {"path": "data/train.jsonl"})
    assert [example.text for example in load_examples(config)] == ["Plain pretraining text."] * 3


def _trained_text(tokenizer: Any, encoded: dict[str, list[int]]) -> str:
    kept = [token for token, label in zip(encoded["input_ids"], encoded["labels"]) if label != IGNORE_INDEX]
    return str(tokenizer.decode(kept))


def test_loss_is_masked_to_assistant_tokens(tiny_tokenizer: Any) -> None:
    example = Example.of_messages("t", CONVERSATION)
    encoded = encode_example(tiny_tokenizer, example, max_seq_length=512)
    assert encoded is not None
    assert encoded["input_ids"] == tiny_tokenizer(render_chat(tiny_tokenizer, CONVERSATION, False), add_special_tokens=False)["input_ids"]
    assert _trained_text(tiny_tokenizer, encoded) == "4.<|end|>\n6.<|end|>\n"
    masked = [token for token, label in zip(encoded["input_ids"], encoded["labels"]) if label == IGNORE_INDEX]
    assert "What is 2 plus 2?" in tiny_tokenizer.decode(masked)
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(encoded["input_ids"], encoded["labels"]))


def test_fallback_template_masks_the_same_way(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    text = render_chat(tokenizer, CONVERSATION, add_generation_prompt=False)
    assert text.startswith("<s>### System:\nBe brief.\n\n### User:\n")
    encoded = encode_example(tokenizer, Example.of_messages("t", CONVERSATION), max_seq_length=512)
    assert encoded is not None
    assert _trained_text(tokenizer, encoded) == "4.</s>\n\n6.</s>\n\n"


def test_truncation_and_records_left_without_targets(tiny_tokenizer: Any) -> None:
    example = Example.of_messages("t", CONVERSATION)
    full = encode_example(tiny_tokenizer, example, max_seq_length=512)
    assert full is not None
    cut = encode_example(tiny_tokenizer, example, max_seq_length=len(full["input_ids"]) - 3)
    assert cut is not None and len(cut["input_ids"]) == len(full["input_ids"]) - 3
    assert encode_example(tiny_tokenizer, example, max_seq_length=8) is None
    text = encode_example(tiny_tokenizer, Example.of_text("t", "Plain text."), max_seq_length=512)
    assert text is not None and text["labels"] == text["input_ids"]
    assert text["input_ids"][-1] == tiny_tokenizer.eos_token_id


def test_eval_split_is_seeded_and_disjoint() -> None:
    examples = [Example.of_text(str(index), str(index)) for index in range(40)]
    train, held_out = split_train_eval(examples, 0.1, seed=7)
    assert len(held_out) == 4 and len(train) == 36
    assert {e.source for e in train}.isdisjoint({e.source for e in held_out})
    assert split_train_eval(examples, 0.1, seed=7) == (train, held_out)
    assert split_train_eval(examples, 0.1, seed=8) != (train, held_out)
    assert split_train_eval(examples, 0, seed=7)[1] == []
    assert len(split_train_eval(examples[:3], 0.01, seed=7)[1]) == 1


def test_unreadable_files_are_dataset_errors(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match="not UTF-8"):
        list(read_records(path))
    with pytest.raises(DatasetError, match="missing.jsonl"):
        list(read_records(tmp_path / "missing.jsonl"))


def test_reasoning_is_learned_with_the_answer_inline_where_the_template_renders_no_reasoning_key(tiny_tokenizer: Any) -> None:
    from modelfactory_trainer.data import renders_reasoning
    from modelfactory_trainer.records import to_example

    record = {
        "messages": [
            {"role": "user", "content": "What is 2 plus 2?"},
            {"role": "assistant", "content": "4.", "reasoning_content": "Two and two make four."},
        ]
    }
    example = Example("t", to_example(record, "messages"))
    assert example.turns[1]["reasoning"] == "Two and two make four."
    assert not renders_reasoning(tiny_tokenizer, None)
    encoded = encode_example(tiny_tokenizer, example, max_seq_length=512)
    assert encoded is not None
    assert _trained_text(tiny_tokenizer, encoded).replace(" ", "") == "<think>\nTwoandtwomakefour.\n</think>\n\n4.<|end|>\n"
    # A template that reads reasoning_content itself gets it there, not inline.
    reading = (
        "{% for m in messages %}{{ m['role'] }}: {% if m.reasoning_content %}[{{ m.reasoning_content }}] {% endif %}"
        "{{ m['content'] }}\n{% endfor %}"
    )
    assert renders_reasoning(tiny_tokenizer, reading)
    text = render_chat(tiny_tokenizer, example.turns, False, None, reading)
    assert text == "user: What is 2 plus 2?\nassistant: [Two and two make four.] 4.\n"


def test_preference_rows_carry_an_answers_reasoning_as_the_template_takes_it() -> None:
    from modelfactory_trainer.preference import preference_rows
    from modelfactory_trainer.records import to_example

    record = {
        "prompt": [{"role": "user", "content": "Is 91 prime?"}],
        "chosen": [{"role": "assistant", "content": "No.", "thinking": "7 x 13 = 91."}],
        "rejected": [{"role": "assistant", "content": "Yes."}],
    }
    example = Example("t", to_example(record, "preference"))
    native = preference_rows([example], "dpo")[0]["chosen"][0]
    assert native == {"role": "assistant", "content": "No.", "reasoning_content": "7 x 13 = 91.", "thinking": "7 x 13 = 91.", "reasoning": "7 x 13 = 91."}
    inline = preference_rows([example], "dpo", inline_reasoning=True)[0]["chosen"][0]
    assert inline == {"role": "assistant", "content": "<think>\n7 x 13 = 91.\n</think>\n\nNo."}
