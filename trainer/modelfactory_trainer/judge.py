"""An LLM judge with a rubric through any OpenAI-compatible chat completions endpoint (the official `openai`
client), shared by `eval` (answers graded against a reference) and `golden` (a `judge` expectation).

The judge is asked for JSON `{"score": 1-10, "reason": "..."}`; `parse_judge_reply` takes it, or the first
JSON object inside other text. A request that fails or a reply without a score is that answer's judge error
(a score of None with the reason), never the run's.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

JUDGE_KEY_ENV = "MODELFACTORY_JUDGE_API_KEY"

JUDGE_INSTRUCTIONS = (
    "You grade an assistant's answer against a reference answer using the rubric. Reply with JSON only: "
    '{"score": <integer 1-10>, "reason": "<one sentence>"}.'
)
JUDGE_INSTRUCTIONS_NO_REFERENCE = (
    "You grade an assistant's answer using the rubric. Reply with JSON only: "
    '{"score": <integer 1-10>, "reason": "<one sentence>"}.'
)


def judge_client(url: str, key_env: str = JUDGE_KEY_ENV, timeout: float = 60.0) -> Any:
    """The `openai` client for the judge; its key from the environment variable `key_env` ("none" when unset)."""
    from openai import OpenAI

    return OpenAI(base_url=url, api_key=os.environ.get(key_env) or "none", timeout=timeout, max_retries=1)


def ask_judge(
    client: Any,
    model: str,
    rubric: str,
    prompt: list[dict[str, Any]],
    answer: str,
    reference: str | None = None,
) -> tuple[float | None, str]:
    """The judge's score (1-10, or None) and reason for `answer` to the conversation `prompt` under `rubric`,
    compared with `reference` when there is one."""
    asked = "\n".join(f"{turn['role']}: {turn.get('content', '')}" for turn in prompt)
    content = f"Rubric:\n{rubric}\n\nConversation:\n{asked}\n\n"
    if reference is not None:
        content += f"Reference answer:\n{reference}\n\n"
    content += f"Answer to grade:\n{answer}"
    instructions = JUDGE_INSTRUCTIONS if reference is not None else JUDGE_INSTRUCTIONS_NO_REFERENCE
    try:
        reply = client.chat.completions.create(
            model=model,
            temperature=0,
            messages=[{"role": "system", "content": instructions}, {"role": "user", "content": content}],
        )
    except Exception as exc:  # the endpoint's failure is this answer's judge error, not the run's
        return None, f"judge request failed: {type(exc).__name__}: {exc}"
    text = (reply.choices[0].message.content or "") if reply.choices else ""
    return parse_judge_reply(text)


def parse_judge_reply(text: str) -> tuple[float | None, str]:
    """The score (1-10) and reason (at most 1000 characters) from a judge's reply: JSON, or JSON inside other text."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match is not None:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            data = None
        if isinstance(data, dict):
            score = data.get("score")
            if isinstance(score, (int, float)) and not isinstance(score, bool) and 1 <= score <= 10:
                return float(score), str(data.get("reason", ""))[:1000]
    return None, f"the judge's reply holds no score from 1 to 10: {text[:200]!r}"
