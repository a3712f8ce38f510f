"""The record contract: how one dataset record becomes an example (a dict in canonical terms), or why it is refused.

The language server's server/src/core/dataset/contract.ts is the same procedure in TypeScript; both read
schemas/records/contract.json (detection order, role names, the words of config-level verdicts), and
test/conformance/records.jsonl holds both sides to the same verdicts and examples. A refusal carries the
rule id under which the linter reports the same problem as an error, so a record that lints clean loads.

An example is a dict:
    kind: "sft" | "preference" | "kto" | "text"
    messages: [turn]  the conversation (sft) or the prompt (preference, kto)
    tools: [{"type": "function", "function": {...}}]  when the record has tool definitions
    text (text), chosen/rejected (preference), completion/label (kto), media ({"images": [...]})
A turn is {"role": "system"|"user"|"assistant"|"tool", "content": str} with optional "tool_calls"
([{"name", "arguments": dict, "id"?}]), "tool_call_id", "name", "reasoning" (an assistant turn's chain of
thought, from reasoning_content, thinking or reasoning), and "train": False on an assistant turn that is
not learned (OpenAI weight 0).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import DatasetError

Json = dict[str, Any]
PathT = list[Any]


class RecordRefused(DatasetError):
    """A record the trainer cannot use, with the rule id the linter reports it under."""

    def __init__(self, rule: str, path: PathT, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.path = path
        self.reason = message


@lru_cache(maxsize=1)
def contract() -> Json:
    from .schemas import schema_file

    path = schema_file("records/contract.json")
    try:
        with open(path, encoding="utf-8") as handle:
            loaded: Json = json.load(handle)
    except OSError as exc:
        raise DatasetError(f"cannot read the record contract at {path}: {exc}") from exc
    return loaded


def words(key: str, **values: Any) -> str:
    """A config-level verdict in the words both sides use."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), contract()["words"][key])


def objective_of(record_format: str) -> str:
    for objective, formats in contract()["objectives"].items():
        if record_format in formats:
            return str(objective)
    return "sft"


def objective_problem(objective: str, record_format: str) -> str | None:
    """Why a job with `objective` cannot train records of `record_format`; None when it can."""
    if objective not in contract()["runnable_objectives"]:
        return words("objective-not-runnable", objective=objective)
    if record_format in contract()["objectives"].get(objective, []):
        return None
    needed = objective_of(record_format)
    why = words("why-kto") if record_format == "kto" else words("why-preference") if record_format == "preference" else ""
    text = words("format-needs-objective", format=record_format, needed=needed, objective=objective, why=why)
    return text[:-2] + "." if text.endswith(": ") else text


def detect_format(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    for rule in contract()["detect"]:
        if all(key in record for key in rule["all"]) and ("any" not in rule or any(key in record for key in rule["any"])):
            return str(rule["format"])
    return None


def _refuse(rule: str, path: PathT, message: str) -> RecordRefused:
    return RecordRefused(rule, path, message)


def _string(record: Json, key: str, required: bool) -> str | None:
    value = record.get(key)
    if key not in record:
        if required:
            raise _refuse("schema/missing-field", [], f"'{key}' is missing")
        return None
    if not isinstance(value, str):
        raise _refuse("schema/wrong-type", [key], f"'{key}' must be a string")
    return value


def _content(value: Any, path: PathT, media: Json) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _refuse("schema/wrong-type", path, "content must be text or a list of parts")
    texts = []
    for index, part in enumerate(value):
        if not isinstance(part, dict):
            raise _refuse("schema/wrong-type", path + [index], "a content part must be an object")
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "image_url":
            url = part["image_url"].get("url") if isinstance(part.get("image_url"), dict) else None
            media.setdefault("images", []).append(url if isinstance(url, str) else "")
            texts.append(contract()["media"]["images"])
        else:
            raise _refuse("schema/wrong-type", path + [index], f"content part of type '{part.get('type')}' is not text")
    return "\n".join(texts)


def _arguments(value: Any, path: PathT) -> Json:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = {} if not value.strip() else json.loads(value)
        except json.JSONDecodeError:
            raise _refuse("messages/tool-call", path, "the tool call arguments are not valid JSON") from None
        if isinstance(parsed, dict):
            return parsed
        if isinstance(parsed, str) and parsed.lstrip().startswith("{"):
            raise _refuse("messages/tool-call", path, "the tool call arguments are JSON encoded twice (a string that holds JSON): encode them once")
    raise _refuse("messages/tool-call", path, "the tool call arguments must be a JSON object")


def _call(value: Any, path: PathT, call_id: Any = None) -> Json:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        raise _refuse("messages/tool-call", path, "a tool call needs the name of the function it calls")
    call: Json = {"name": value["name"], "arguments": _arguments(value.get("arguments"), path + ["arguments"])}
    if isinstance(call_id, str):
        call["id"] = call_id
    return call


def _tools(value: Any, path: PathT) -> list[Json]:
    items = value
    if isinstance(value, str):
        try:
            items = [] if not value.strip() else json.loads(value)
        except json.JSONDecodeError:
            raise _refuse("schema/wrong-type", path, "tools is a string that is not valid JSON") from None
    if not isinstance(items, list):
        raise _refuse("schema/wrong-type", path, "tools must be a list of tool definitions")
    tools = []
    for index, tool in enumerate(items):
        if not isinstance(tool, dict):
            raise _refuse("schema/wrong-type", path + [index], "a tool definition must be an object")
        tools.append(tool if isinstance(tool.get("function"), dict) else {"type": "function", "function": tool})
    return tools


def _openai_message(message: Any, path: PathT, media: Json) -> Json:
    if not isinstance(message, dict):
        raise _refuse("schema/wrong-type", path, "a message must be an object")
    raw = message.get("role")
    if not isinstance(raw, str):
        raise _refuse("schema/missing-field", path, "a message needs a 'role'")
    role = contract()["roles"]["messages"].get(raw)
    if role is None:
        raise _refuse("messages/unknown-role", path + ["role"], f"unknown role '{raw}'")
    content = _content(message.get("content"), path + ["content"], media)
    calls = []
    if "tool_calls" in message:
        if not isinstance(message["tool_calls"], list):
            raise _refuse("schema/wrong-type", path + ["tool_calls"], "tool_calls must be a list")
        for index, call in enumerate(message["tool_calls"]):
            call_path = path + ["tool_calls", index]
            if not isinstance(call, dict):
                raise _refuse("messages/tool-call", call_path, "a tool call must be an object")
            calls.append(_call(call.get("function"), call_path + ["function"], call.get("id")))
    if "function_call" in message:
        calls.append(_call(message["function_call"], path + ["function_call"]))
    if calls and role != "assistant":
        raise _refuse("messages/tool-call", path + ["role"], f"a {raw} message cannot call tools")
    if content is None and not calls:
        raise _refuse("messages/empty-content", path, f"a {raw} message needs content")
    turn: Json = {"role": role, "content": content or ""}
    if calls:
        turn["tool_calls"] = calls
    if isinstance(message.get("tool_call_id"), str):
        turn["tool_call_id"] = message["tool_call_id"]
    if isinstance(message.get("name"), str):
        turn["name"] = message["name"]
    reasoning = _reasoning(message, raw, role, path)
    if reasoning:
        turn["reasoning"] = reasoning
    weight = message.get("weight")
    if "weight" in message and (isinstance(weight, bool) or weight not in (0, 1)):
        raise _refuse("schema/wrong-type", path + ["weight"], "weight must be 0 or 1")
    if weight == 0 and "weight" in message and role == "assistant":
        turn["train"] = False
    return turn


def _reasoning(message: Json, raw_role: str, role: str, path: PathT) -> str:
    """The message's reasoning under any of the contract's keys ("" for none): text, on an assistant turn, one text."""
    found: tuple[str, str] | None = None
    for key in contract()["reasoning"]["keys"]:
        value = message.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _refuse("schema/wrong-type", path + [key], f"{key} must be text")
        if not value.strip():
            continue
        if role != "assistant":
            raise _refuse("messages/reasoning", path + [key], f"a {raw_role} message cannot carry reasoning ({key}): only assistant turns reason")
        if found is not None and found[1] != value:
            raise _refuse("messages/reasoning", path + [key], f"{found[0]} and {key} hold different reasoning: keep one")
        found = found or (key, value)
    return found[1] if found else ""


def _openai_messages(items: Any, path: PathT, media: Json) -> list[Json]:
    if not isinstance(items, list):
        raise _refuse("schema/wrong-type", path, "expected a list of messages")
    return [_openai_message(message, path + [index], media) for index, message in enumerate(items)]


def _sharegpt_turn(turn: Any, path: PathT) -> Json:
    if not isinstance(turn, dict):
        raise _refuse("schema/wrong-type", path, "a turn must be an object")
    speaker = turn.get("from")
    if not isinstance(speaker, str):
        raise _refuse("schema/missing-field", path, "a turn needs 'from'")
    role = contract()["roles"]["sharegpt"].get(speaker)
    if role is None:
        raise _refuse("messages/unknown-role", path + ["from"], f"unknown speaker '{speaker}'")
    if "value" not in turn:
        raise _refuse("schema/missing-field", path, "'value' is missing")
    value = turn["value"]
    if not isinstance(value, str):
        raise _refuse("schema/wrong-type", path + ["value"], "'value' must be a string")
    # A turn's weight (SlimOrca, OpenHermes, axolotl): 0 leaves an answer untrained; 1 and null are the default.
    weight = turn.get("weight")
    if weight is not None and (isinstance(weight, bool) or weight not in (0, 1)):
        raise _refuse("schema/wrong-type", path + ["weight"], "weight must be 0, 1 or null")
    untrained = {"train": False} if weight == 0 else {}
    if speaker not in contract()["tool_call_speakers"]:
        return {"role": role, "content": value, **(untrained if role == "assistant" else {})}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise _refuse("messages/tool-call", path + ["value"], f"a {speaker} turn must hold the call as JSON") from None
    many = isinstance(parsed, list)
    calls = [_call(call, path + ["value", index] if many else path + ["value"]) for index, call in enumerate(parsed if many else [parsed])]
    if not calls:
        raise _refuse("messages/tool-call", path + ["value"], "the call list is empty")
    return {"role": "assistant", "content": "", "tool_calls": calls, **untrained}


def _sharegpt_turns(items: Any, path: PathT) -> list[Json]:
    if not isinstance(items, list):
        raise _refuse("schema/wrong-type", path, "expected a list of turns")
    return [_sharegpt_turn(turn, path + [index]) for index, turn in enumerate(items)]


def _system(record: Json) -> list[Json]:
    system = record.get("system")
    return [{"role": "system", "content": system}] if isinstance(system, str) and system else []


def _alpaca_prompt(record: Json) -> list[Json]:
    turns: list[Json] = []
    system = _string(record, "system", required=False)
    if system:
        turns.append({"role": "system", "content": system})
    history = record.get("history")
    if "history" in record:
        if not isinstance(history, list):
            raise _refuse("schema/wrong-type", ["history"], "history must be a list of pairs")
        for index, pair in enumerate(history):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
                raise _refuse("schema/wrong-type", ["history", index], "each history entry must be a [user, assistant] pair of strings")
            turns += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    instruction = _string(record, "instruction", required=True)
    extra = _string(record, "input", required=False)
    assert instruction is not None
    turns.append({"role": "user", "content": instruction + contract()["alpaca_join"] + extra if extra else instruction})
    return turns


def _media(record: Json) -> Json:
    media: Json = {}
    for key in contract()["media"]:
        if key not in record:
            continue
        value = record[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _refuse("schema/wrong-type", [key], f"{key} must be a list of file paths")
        if value:
            media[key] = value
    return media


def _has_trained_answer(turns: list[Json]) -> bool:
    return any(turn["role"] == "assistant" and turn.get("train", True) for turn in turns)


def _blank(turns: list[Json]) -> bool:
    return all(not turn["content"].strip() and not turn.get("tool_calls") for turn in turns)


def _answer(value: Any, path: PathT, media: Json) -> list[Json]:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    if isinstance(value, list):
        return _openai_messages(value, path, media)
    if isinstance(value, dict) and "from" in value:
        return [_sharegpt_turn(value, path)]
    if isinstance(value, dict) and "role" in value:
        return _openai_messages([value], path, media)[:1]
    raise _refuse("schema/wrong-type", path, "an answer must be text, messages or one turn")


def _prompt(record: Json, value: Any, path: PathT, media: Json) -> list[Json]:
    if isinstance(value, str):
        return _system(record) + [{"role": "user", "content": value}]
    return _system(record) + _openai_messages(value, path, media)


def _shared_text_prefix(first: str, second: str) -> int:
    """Where two texts that begin alike part, as TRL's extract_prompt finds it: a space just before
    stays with the answers."""
    length = 0
    limit = min(len(first), len(second))
    while length < limit and first[length] == second[length]:
        length += 1
    return length - 1 if length > 0 and first[length - 1] == " " else length


def _preference(record: Json, media: Json) -> Json:
    tools: list[Json] | None = None
    if isinstance(record.get("input"), dict) and "preferred_output" in record:
        prompt = _openai_messages(record["input"].get("messages"), ["input", "messages"], media)
        if "tools" in record["input"]:
            tools = _tools(record["input"]["tools"], ["input", "tools"])
        chosen = _openai_messages(record["preferred_output"], ["preferred_output"], media)
        rejected = _openai_messages(record.get("non_preferred_output"), ["non_preferred_output"], media)
    else:
        prompt_given = True
        if "conversations" in record:
            prompt = _system(record) + _sharegpt_turns(record["conversations"], ["conversations"])
        elif "instruction" in record:
            prompt = _alpaca_prompt(record)
        elif "prompt" in record:
            prompt = _prompt(record, record["prompt"], ["prompt"], media)
        else:
            prompt, prompt_given = [], False
        chosen = _answer(record.get("chosen"), ["chosen"], media)
        rejected = _answer(record.get("rejected"), ["rejected"], media)
        if not prompt_given:
            # TRL's implicit prompt: both sides are whole conversations that share the prompt.
            if isinstance(record.get("chosen"), list) and isinstance(record.get("rejected"), list):
                shared = 0
                while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
                    shared += 1
                prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
            elif isinstance(record.get("chosen"), str) and isinstance(record.get("rejected"), str):
                # The same in text (Anthropic's HH-RLHF): the prompt is the two texts' common beginning.
                whole_chosen, whole_rejected = record["chosen"], record["rejected"]
                if whole_chosen == whole_rejected:
                    raise _refuse("preference/identical", ["rejected"], "the two answers are identical")
                shared = _shared_text_prefix(whole_chosen, whole_rejected)
                if shared:
                    prompt = _prompt(record, whole_chosen[:shared], ["chosen"], media)
                    chosen = [{"role": "assistant", "content": whole_chosen[shared:]}]
                    rejected = [{"role": "assistant", "content": whole_rejected[shared:]}]
            if not prompt:
                raise _refuse("schema/missing-field", [], "a preference record needs a prompt (prompt, instruction, conversations or input.messages), or two answers that begin with the same one")
        if "tools" in record:
            tools = _tools(record["tools"], ["tools"])
    chosen_key = "preferred_output" if "preferred_output" in record else "chosen"
    rejected_key = "non_preferred_output" if "non_preferred_output" in record else "rejected"
    if _blank(chosen):
        raise _refuse("content/empty", [chosen_key], "the preferred answer is empty")
    if _blank(rejected):
        raise _refuse("content/empty", [rejected_key], "the rejected answer is empty")
    if not _has_trained_answer(chosen):
        raise _refuse("messages/no-assistant", [chosen_key], "the preferred answer has no assistant turn")
    if not _has_trained_answer(rejected):
        raise _refuse("messages/no-assistant", [rejected_key], "the rejected answer has no assistant turn")
    if chosen == rejected:
        raise _refuse("preference/identical", [rejected_key], "the two answers are identical")
    example: Json = {"kind": "preference", "messages": prompt, "chosen": chosen, "rejected": rejected}
    if tools:
        example["tools"] = tools
    return example


def _kto(record: Json, media: Json) -> Json:
    label_key = "label" if "label" in record else "kto_tag"
    label = record.get(label_key)
    if not isinstance(label, bool):
        raise _refuse("schema/wrong-type", [label_key], f"{label_key} must be true or false")
    if "completion" in record:
        prompt = _prompt(record, record["prompt"], ["prompt"], media) if "prompt" in record else []
        completion = _answer(record["completion"], ["completion"], media)
    else:
        key = "messages" if "messages" in record else "conversations"
        turns = _openai_messages(record.get(key), [key], media) if key == "messages" else _sharegpt_turns(record.get(key), [key])
        if not turns or turns[-1]["role"] != "assistant":
            raise _refuse("messages/no-assistant", [key], "the conversation must end with the answer the label judges")
        prompt, completion = _system(record) + turns[:-1], turns[-1:]
    if not _has_trained_answer(completion):
        raise _refuse("messages/no-assistant", ["completion"], "the completion has no assistant turn")
    if _blank(completion):
        raise _refuse("content/empty", ["completion"], "the completion is empty")
    example: Json = {"kind": "kto", "messages": prompt, "completion": completion, "label": label}
    if "tools" in record:
        tools = _tools(record["tools"], ["tools"])
        if tools:
            example["tools"] = tools
    return example


def _prompt_completion(record: Json, media: Json) -> Json:
    """TRL's prompt-completion record, trained as sft: the prompt (text, or messages whose assistant turns are
    context, not learned) and the completion learned after it, as TRL's completion-only loss does."""
    for key in ("prompt", "completion"):
        if key not in record:
            raise _refuse("schema/missing-field", [], f"'{key}' is missing")
    prompt = _prompt(record, record["prompt"], ["prompt"], media)
    completion = _answer(record["completion"], ["completion"], media)
    if not _has_trained_answer(completion):
        raise _refuse("messages/no-assistant", ["completion"], "the completion has no assistant turn")
    if _blank(completion):
        raise _refuse("content/empty", ["completion"], "the completion is empty")
    context = [dict(turn, train=False) if turn["role"] == "assistant" else turn for turn in prompt]
    example: Json = {"kind": "sft", "messages": context + completion}
    if "tools" in record:
        tools = _tools(record["tools"], ["tools"])
        if tools:
            example["tools"] = tools
    return example


def _conversation(record: Json, record_format: str, media: Json) -> Json:
    tools: list[Json] = []
    key = "messages"
    if record_format == "messages":
        if "messages" not in record:
            raise _refuse("schema/missing-field", [], "'messages' is missing")
        turns = _openai_messages(record["messages"], ["messages"], media)
        if "tools" in record:
            tools += _tools(record["tools"], ["tools"])
        if "functions" in record:
            tools += _tools(record["functions"], ["functions"])
    elif record_format == "sharegpt":
        key = "conversations"
        if "conversations" not in record:
            raise _refuse("schema/missing-field", [], "'conversations' is missing")
        system = _string(record, "system", required=False)
        turns = _sharegpt_turns(record["conversations"], ["conversations"])
        if system:
            turns = [{"role": "system", "content": system}] + turns
        if "tools" in record:
            tools = _tools(record["tools"], ["tools"])
    else:
        prompt = _alpaca_prompt(record)
        output = _string(record, "output", required=True)
        turns = prompt + [{"role": "assistant", "content": output}]
    if not _has_trained_answer(turns):
        some = any(turn["role"] == "assistant" for turn in turns)
        raise _refuse("messages/no-assistant", [key], "every assistant turn has weight 0" if some else "the conversation has no assistant turn")
    example: Json = {"kind": "sft", "messages": turns}
    if tools:
        example["tools"] = tools
    return example


def _placeholder_counts(example: Json) -> dict[str, int]:
    turns = example["messages"] + example.get("chosen", []) + example.get("completion", [])
    return {key: sum(turn["content"].count(mark) for turn in turns) for key, mark in contract()["media"].items()}


def to_example(record: Any, record_format: str) -> Json:
    """The record as an example; raises RecordRefused with the linter's rule id."""
    if not isinstance(record, dict):
        raise _refuse("format/unknown", [], "a record must be a JSON object")
    media = _media(record)
    if record_format == "text":
        text = _string(record, "text", required=True)
        example: Json = {"kind": "text", "messages": [], "text": text}
    elif record_format == "preference":
        example = _preference(record, media)
    elif record_format == "kto":
        example = _kto(record, media)
    elif record_format == "prompt_completion":
        example = _prompt_completion(record, media)
    elif record_format in ("messages", "sharegpt", "alpaca"):
        example = _conversation(record, record_format, media)
    else:
        raise _refuse("format/unknown", [], f"unknown record format '{record_format}'")
    if media:
        counts = _placeholder_counts(example)
        for key, files in media.items():
            if counts[key] != len(files):
                mark = contract()["media"][key]
                plural = "" if counts[key] == 1 else "s"
                raise _refuse(
                    "media/placeholder-count", [key], f"{len(files)} {key} but {counts[key]} {mark} placeholder{plural} in the text: they must match"
                )
        example["media"] = media
    return example


def template_turns(turns: list[Json], inline_reasoning: bool = False) -> list[Json]:
    """Turns as chat templates take them: tool calls as {"type": "function", "function": {name, arguments}}.

    An assistant turn's reasoning goes under each of the contract's reasoning keys, or, with
    `inline_reasoning` (a template that renders none of them), into the content between think tags.
    """
    rendered = []
    words = contract()["reasoning"]
    for turn in turns:
        message: Json = {"role": turn["role"], "content": turn["content"]}
        reasoning = turn.get("reasoning")
        if reasoning and inline_reasoning:
            message["content"] = words["inline_open"] + reasoning + words["inline_close"] + turn["content"]
        elif reasoning:
            for key in words["keys"]:
                message[key] = reasoning
        if "tool_calls" in turn:
            message["tool_calls"] = [
                {"type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}, **({"id": call["id"]} if "id" in call else {})}
                for call in turn["tool_calls"]
            ]
        for key in ("tool_call_id", "name"):
            if key in turn:
                message[key] = turn[key]
        rendered.append(message)
    return rendered


def chat_template_path(name: str) -> Path | None:
    """A built-in template's file (schemas/chat-templates/NAME.jinja), or None for an unknown name."""
    from .schemas import schema_file

    path = schema_file(f"chat-templates/{name}.jinja")
    return path if re.fullmatch(r"[a-z0-9_.-]+", name) and path.is_file() else None


def read_source_path(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read the chat template {path}: {exc.strerror or exc}") from exc
