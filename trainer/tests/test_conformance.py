"""The record contract's conformance corpus (test/conformance/records.jsonl), on the trainer's side.

The language server runs the same corpus (test/conformance/conformance.test.ts): each record's detected
format, its verdict (the example, or the rule id of the refusal) and, for accepted conversations, the
text the chatml template renders and the spans that are trained.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelfactory_trainer.data import Example, check_objective, render_chat, resolve_chat_template, trained_spans
from modelfactory_trainer.errors import DatasetError
from modelfactory_trainer.records import RecordRefused, detect_format, to_example

CORPUS = Path(__file__).resolve().parents[2] / "test" / "conformance" / "records.jsonl"
ENTRIES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _word_level_tokenizer() -> Any:
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def test_the_corpus_covers_every_format_and_verdict() -> None:
    assert {entry["detected"] for entry in ENTRIES} >= {"messages", "sharegpt", "alpaca", "preference", "kto", "text", "prompt_completion", None}
    assert sum("refused" in entry for entry in ENTRIES) >= 8 and sum("example" in entry for entry in ENTRIES) >= 15


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
def test_verdict_and_example(entry: dict[str, Any]) -> None:
    detected = detect_format(entry["record"])
    assert detected == entry["detected"]
    record_format = detected if entry["format"] == "auto" else entry["format"]
    if "refused" in entry:
        with pytest.raises((RecordRefused, DatasetError)) as refused:
            if record_format is None:
                raise RecordRefused("format/unknown", [], "no known format")
            to_example(entry["record"], record_format)
        assert getattr(refused.value, "rule", None) in entry["refused"]
    else:
        assert to_example(entry["record"], record_format) == entry["example"]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "chatml" in e], ids=[e["name"] for e in ENTRIES if "chatml" in e])
def test_chatml_rendering_and_trained_spans(entry: dict[str, Any]) -> None:
    tokenizer = _word_level_tokenizer()
    template = resolve_chat_template("chatml")
    example = Example("corpus", entry["example"])
    text = render_chat(tokenizer, example.turns, False, example.tools, template)
    assert text == entry["chatml"]["rendered"]
    spans = trained_spans(tokenizer, example.turns, text, example.tools, template)
    assert [text[start:end] for start, end in spans] == entry["chatml"]["trained"]


def test_a_template_that_drops_tool_calls_is_refused_in_the_contract_words() -> None:
    tokenizer = _word_level_tokenizer()
    plain = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    entry = next(e for e in ENTRIES if e["name"].startswith("openai tool calling"))
    example = Example("corpus", entry["example"])
    text = render_chat(tokenizer, example.turns, False, example.tools, plain)
    with pytest.raises(DatasetError, match=r"does not render tool calls \(the call to 'get_weather'"):
        trained_spans(tokenizer, example.turns, text, example.tools, plain)


@pytest.mark.parametrize(
    ("name", "objective", "words"),
    [
        ("preference, TRL strings", "sft", r"preference records train with objective dpo, not sft: an sft job would learn the rejected"),
        ("kto, TRL: an undesirable completion", "sft", r"kto records train with objective kto, not sft: .*label: false"),
        ("openai chat", "dpo", r"messages records train with objective sft, not dpo"),
        ("media: two images, two placeholders", "sft", r"1 records carry images, videos or audio"),
    ],
)
def test_objective_and_media_verdicts_use_the_contract_words(name: str, objective: str, words: str) -> None:
    entry = next(e for e in ENTRIES if e["name"] == name)
    with pytest.raises(DatasetError, match=words):
        check_objective([Example("f:1", entry["example"])], objective)
