"""The built-in tiny model: a random LLaMA-style network with a BPE tokenizer trained on the spot.

Every code path (tokenize, template, LoRA, save, load, generate) is the real one; only the weights are
small and random. Built offline, seeded, and cached; a build goes to a temp dir and is renamed in place.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

BUILTIN_PREFIX = "builtin:"
TINY_LLAMA_ID = "builtin:tiny-llama"
TINY_LLAMA_DIRNAME = "tiny-llama-v2"

# The language server's model catalog repeats these numbers; change both together.
TINY_LLAMA_SHAPE = {
    "vocab_size": 1024,
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "tie_word_embeddings": False,
    # Wider than the usual 0.02: with frozen random weights that small, the residual stream and the
    # output head carry too little signal for LoRA to fit anything; 0.2 lets a few hundred adapter
    # steps memorise a small dataset, as a real pretrained model would let them.
    "initializer_range": 0.2,
}
SPECIAL_TOKENS = ["<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_SEED = 20240601

_PARAGRAPHS = [
    "A small model learns slowly at first and then quickly, once the data starts to repeat.",
    "Fine-tuning adapts a pretrained network to a narrow task with a few thousand examples.",
    "Low-rank adapters add two thin matrices beside each frozen weight and train only those.",
    "The assistant answers the question, cites the source, and says when it does not know.",
    "Please summarise the meeting notes in three short bullet points for the whole team.",
    "The weather today is cold and windy, with light rain expected in the late afternoon.",
    "To reset your password, open the settings page, choose security, and follow the link.",
    "Curated datasets beat large piles of unchecked text: every record is read and verified.",
    "The train left the station at nine, crossed the river, and reached the city by noon.",
    "Write a function that returns the sum of the numbers in a list, and test it twice.",
    "Thank you for your message. I have forwarded it to the support team, who will reply soon.",
    "What is the capital of France? The capital of France is Paris, on the river Seine.",
    "How many days are in a week? There are seven days in a week, from Monday to Sunday.",
    "Translate the sentence into plain English, keeping the meaning and the polite tone.",
    "The learning rate controls the size of each step; too large and the loss diverges.",
    "Evaluation on held-out records shows whether the model generalises or only memorises.",
    "Every checkpoint holds the adapter weights, the optimizer state and the step counter.",
    "Hello! How can I help you today? I can answer questions, explain code, or draft text.",
]
_SUBJECTS = ["the model", "a user", "the team", "our system", "this dataset", "the engineer", "a student"]
_VERBS = ["reads", "writes", "checks", "trains on", "explains", "answers", "improves", "summarises"]
_OBJECTS = ["the report", "every question", "short answers", "the numbers", "a long story", "the code", "new data"]
_ENDINGS = ["before lunch.", "with care.", "every morning.", "in two steps.", "without errors.", "for the demo."]
_WORDS = (
    "about above across after again against almost along already although always among animal another answer "
    "appear apple around arrive article autumn balance banana beautiful because become before begin behind "
    "believe between bicycle birthday bottle bridge bright brother budget building business button camera "
    "careful carry castle center change chapter chicken children choose circle city clean clever climate "
    "cloud coffee colour common company compare complete computer consider control corner country courage "
    "create culture customer danger daughter decide deliver describe design detail develop different dinner "
    "direction discover doctor dollar double dragon dream during early earth easily education effect eight "
    "eleven energy engine enough evening example exercise expect experience explain family famous farmer "
    "father feature finger finish flower follow forest forget forward friend future garden gather general "
    "gentle global golden govern gravity guitar happen happy harbour health heavy history holiday honest "
    "hospital hundred imagine important include increase island journey kitchen knowledge language laugh "
    "letter library listen little machine market measure memory method middle minute mirror moment money "
    "morning mountain mother music nature network never number ocean office orange order paper parent "
    "pattern people pencil perhaps picture planet player pocket police popular possible potato power "
    "practice prepare present pretty problem produce project promise protect purple question quickly "
    "rabbit reason record remember repeat report result river rocket science season second secret "
    "service seven shadow silver simple single sister smile society soldier special spring square station "
    "status stone street strong student subject success summer support surface system table teacher "
    "thousand thunder ticket tomorrow travel triangle trouble twelve understand universe usually valley "
    "village visit voice wallet water weather window winter without wonder wooden world yellow yesterday"
).split()


def builtin_corpus() -> list[str]:
    """A fixed English corpus: hand-written lines plus a deterministic grid of simple sentences."""
    grid = [
        f"{subject.capitalize()} {verb} {obj} {ending}"
        for subject, verb, obj, ending in itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _ENDINGS)
    ]
    numbers = [f"{a} plus {b} is {a + b}." for a in range(12) for b in range(12)]
    vocabulary = [" ".join(_WORDS[start : start + 8]).capitalize() + "." for start in range(0, len(_WORDS), 3)]
    return _PARAGRAPHS * 4 + grid + numbers + vocabulary * 2


def cache_root() -> Path:
    configured = os.environ.get("MODELFACTORY_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "modelfactory"


def tiny_llama_dir() -> Path:
    return cache_root() / "builtin" / TINY_LLAMA_DIRNAME


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _REQUIRED_FILES)


def _train_tokenizer() -> "object":
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    bpe_trainer = trainers.BpeTrainer(
        vocab_size=TINY_LLAMA_SHAPE["vocab_size"],
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(builtin_corpus(), trainer=bpe_trainer)
    return tokenizer


def _build_into(directory: Path) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw_tokenizer = _train_tokenizer()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw_tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens=["<|user|>", "<|assistant|>", "<|system|>", "<|end|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    end_id = tokenizer.convert_tokens_to_ids("<|end|>")
    config = LlamaConfig(
        **TINY_LLAMA_SHAPE,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(_SEED)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.eos_token_id, end_id],
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def ensure_tiny_llama() -> Path:
    """The tiny model's directory, built on first use (offline, deterministic) and cached after."""
    target = tiny_llama_dir()
    if _is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{TINY_LLAMA_DIRNAME}.tmp-", dir=target.parent))
    try:
        _build_into(staging)
        staging.chmod(0o755)
        if target.exists() and not _is_complete(target):
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process finished first; its copy is as good as ours.
            if not _is_complete(target):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
