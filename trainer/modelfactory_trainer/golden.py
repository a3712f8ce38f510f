"""`golden FILE.evals.yaml [--junit OUT] [--json]`: golden prompts as tests, for CI.

The file (schemas/evals.schema.json) names a fine-tune config and lists prompts with expectations
(contains, not_contains, regex, equals, max_tokens, judge). Each prompt is answered greedily by the base model
and by each adapter under the chat template training used (evaluate.py's `Models`), and checked. A `judge`
expectation asks an LLM judge (judge.py: any OpenAI-compatible endpoint, from the file's top-level `judge`
or `--judge-url/--judge-model/--judge-key-env`) for a 1-10 score under its rubric; the check passes at
`min_score`, and the score and reason go into the result and any failure message. JUnit XML has one
testsuite per model and one testcase per prompt, a failure carrying what was expected and the answer.
Exit 0 when every check passes, 1 when one fails, 2 on bad input (a judged prompt without an endpoint
included, refused before any model loads).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, TrainerError
from .events import note
from .schemas import load_schema_json
from .judge import JUDGE_KEY_ENV, ask_judge, judge_client

MAX_EVALS_BYTES = 1 << 20


def load_evals(path: Path) -> dict[str, Any]:
    """The evals file, schema-checked (its errors name the JSON path)."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    from .config import load_yaml

    if not path.is_file() or path.stat().st_size > MAX_EVALS_BYTES:
        raise ConfigError(f"{path}: not a regular file under {MAX_EVALS_BYTES >> 10} KiB")
    data = load_yaml(path.read_text(encoding="utf-8-sig"))
    schema = load_schema_json("evals.schema.json")
    error = best_match(Draft7Validator(schema).iter_errors(data))
    if error is not None:
        raise ConfigError(f"{path.name}: {error.json_path}: {error.message}")
    names = [prompt["name"] for prompt in data["prompts"]]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{path.name}: prompt names must be unique: {', '.join(duplicates)}")
    for index, prompt in enumerate(data["prompts"]):
        if "regex" in prompt["expect"]:
            try:
                re.compile(prompt["expect"]["regex"])
            except re.error as exc:
                raise ConfigError(f"{path.name}: $.prompts[{index}].expect.regex: {exc}") from exc
    return dict(data)


def check_answer(expect: dict[str, Any], answer: str, tokens: int) -> list[str]:
    """What the answer gets wrong, one line each; empty when it passes."""
    problems = [f"expected it to contain {text!r}" for text in expect.get("contains", []) if text not in answer]
    problems += [f"expected it not to contain {text!r}" for text in expect.get("not_contains", []) if text in answer]
    if "regex" in expect and re.search(expect["regex"], answer) is None:
        problems.append(f"expected it to match /{expect['regex']}/")
    if "equals" in expect and answer.strip() != expect["equals"].strip():
        problems.append(f"expected exactly {expect['equals'].strip()!r}")
    if "max_tokens" in expect and tokens > int(expect["max_tokens"]):
        problems.append(f"expected at most {expect['max_tokens']} tokens, got {tokens}")
    return problems


DEFAULT_MIN_SCORE = 7.0
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class JudgeEndpoint:
    """Where `judge` expectations are graded: an OpenAI-compatible base URL, a model, the key's variable."""

    url: str
    model: str
    key_env: str = JUDGE_KEY_ENV
    timeout: float = 60.0


def judge_endpoint(evals: dict[str, Any], file_name: str, overrides: dict[str, str | None] | None = None) -> JudgeEndpoint | None:
    """The judge endpoint when a prompt has a `judge` expectation (None when none has): the file's top-level
    `judge` with the command line's `url`, `model`, `key_env` over it. Missing pieces are a ConfigError."""
    judged = [prompt["name"] for prompt in evals["prompts"] if "judge" in prompt["expect"]]
    if not judged:
        return None
    settings = dict(evals.get("judge") or {})
    given = {key: value for key, value in (overrides or {}).items() if value}
    url = given.get("url") or settings.get("base_url")
    model = given.get("model") or settings.get("model")
    key_env = given.get("key_env") or settings.get("api_key_env")
    where = f"{file_name}: prompt {judged[0]!r}" + (f" (and {len(judged) - 1} more)" if len(judged) > 1 else "")
    if not url or not model:
        missing = " and ".join(name for name, value in (("base_url", url), ("model", model)) if not value)
        raise ConfigError(
            f"{where} has a judge expectation but the judge endpoint has no {missing}: add a top-level "
            "`judge: {base_url: http://…/v1, model: NAME}` to the file or pass --judge-url URL --judge-model NAME"
        )
    if not re.match(r"^https?://", url):
        raise ConfigError(f"{file_name}: the judge endpoint {url!r} is not an http(s) URL")
    if key_env is not None:
        if not _ENV_NAME.match(key_env):
            raise ConfigError(f"{file_name}: {key_env!r} is not an environment variable name")
        if not os.environ.get(key_env):
            raise ConfigError(f"{where} needs the judge's API key in ${key_env}, which is not set")
    return JudgeEndpoint(url, model, key_env or JUDGE_KEY_ENV, float(settings.get("timeout_seconds", 60.0)))


def judge_problems(expect_judge: dict[str, Any], score: float | None, reason: str) -> list[str]:
    """What a judge's grade gets wrong: a score under `min_score`, or no score at all (the reply's fault)."""
    minimum = float(expect_judge.get("min_score", DEFAULT_MIN_SCORE))
    if score is None:
        return [f"the judge gave no score: {reason}"]
    if score < minimum:
        return [f"the judge scored it {score:g}/10, below {minimum:g}: {reason}"]
    return []


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Model output may hold control characters XML 1.0 cannot carry: they become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(results: list[dict[str, Any]], file_name: str) -> str:
    suites = ET.Element("testsuites", name=file_name)
    for model in dict.fromkeys(result["model"] for result in results):
        rows = [result for result in results if result["model"] == model]
        failures = sum(1 for row in rows if row["problems"])
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{file_name} [{model}]",
            tests=str(len(rows)),
            failures=str(failures),
            time=f"{sum(row['seconds'] for row in rows):.3f}",
        )
        for row in rows:
            case = ET.SubElement(suite, "testcase", classname=f"{file_name}.{model}", name=row["name"], time=f"{row['seconds']:.3f}")
            if row["problems"]:
                failure = ET.SubElement(case, "failure", message=_xml_text("; ".join(row["problems"])))
                failure.text = _xml_text("\n".join(row["problems"]) + f"\n--- answer ---\n{row['answer']}")
            ET.SubElement(case, "system-out").text = _xml_text(row["answer"])
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def run_golden(path: Path, only: list[str] | None = None, judge: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """Every prompt (or those named in `only`) against each model; an unknown name in `only` is refused.
    `judge` holds the command line's judge endpoint (`url`, `model`, `key_env`) over the file's."""
    from .config import load_config
    from .evaluate import HeldOut, Models

    evals = load_evals(path)
    if only:
        names = [prompt["name"] for prompt in evals["prompts"]]
        unknown = [name for name in only if name not in names]
        if unknown:
            raise ConfigError(f"{path.name}: no prompt named {', '.join(repr(name) for name in unknown)}")
        evals["prompts"] = [prompt for prompt in evals["prompts"] if prompt["name"] in only]
    endpoint = judge_endpoint(evals, path.name, judge)  # before any model loads
    grader = judge_client(endpoint.url, endpoint.key_env, endpoint.timeout) if endpoint is not None else None
    config = load_config(path.parent / evals["config"])
    adapters = [(path.parent / adapter).resolve() for adapter in evals.get("adapters", [])]
    if "adapters" not in evals and (config.output_dir / "adapter" / "adapter_config.json").is_file():
        adapters = [config.output_dir / "adapter"]
    models = Models(config, adapters)
    lineup: list[tuple[str, str | None]] = [("base", None)] if evals.get("base", True) else []
    lineup += [(adapter.parent.name if adapter.name == "adapter" else adapter.name, str(adapter)) for adapter in adapters]
    if not lineup:
        raise ConfigError(f"{path.name}: no model to run (base: false and no adapter)")
    cancel = threading.Event()
    results: list[dict[str, Any]] = []
    for model_name, adapter in lineup:
        for index, prompt in enumerate(evals["prompts"]):
            turns = ([{"role": "system", "content": prompt["system"]}] if prompt.get("system") else []) + [
                {"role": "user", "content": prompt["prompt"]}
            ]
            started = time.perf_counter()
            answer = models.answer(HeldOut(index, f"{path}:{prompt['name']}", turns, "", None), adapter, int(evals.get("max_new_tokens", 128)), cancel)
            tokens = len(models.tokenizer(answer, add_special_tokens=False)["input_ids"])
            problems = check_answer(prompt["expect"], answer, tokens)
            graded: dict[str, Any] = {}
            if "judge" in prompt["expect"] and grader is not None and endpoint is not None:
                expect_judge = prompt["expect"]["judge"]
                score, reason = ask_judge(grader, endpoint.model, expect_judge["rubric"], turns, answer)
                minimum = float(expect_judge.get("min_score", DEFAULT_MIN_SCORE))
                graded = {"judge": {"score": score, "min_score": minimum, "reason": reason}}
                problems += judge_problems(expect_judge, score, reason)
            results.append(
                {
                    "name": prompt["name"],
                    "expect": prompt["expect"],
                    "model": model_name,
                    "adapter": adapter,
                    "answer": answer,
                    "tokens": tokens,
                    "passed": not problems,
                    "problems": problems,
                    **graded,
                    "seconds": time.perf_counter() - started,
                }
            )
            note(f"{'PASS' if not problems else 'FAIL'} {prompt['name']} [{model_name}]")
    return results


def golden_command(args: argparse.Namespace) -> int:
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        path = Path(args.file).resolve()
        overrides = {"url": args.judge_url, "model": args.judge_model, "key_env": args.judge_key_env}
        results = run_golden(path, list(args.only or []), overrides)
    except TrainerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = real_stdout
    if args.junit:
        Path(args.junit).write_text(junit_xml(results, path.name), encoding="utf-8")
    failed = [result for result in results if not result["passed"]]
    if args.json:
        print(json.dumps({"passed": len(results) - len(failed), "failed": len(failed), "results": results}))
    else:
        for result in results:
            mark = "ok  " if result["passed"] else "FAIL"
            graded = result.get("judge")
            judged = f" (judge {graded['score']:g}/10: {graded['reason']})" if graded and graded["score"] is not None and result["passed"] else ""
            print(f"{mark} {result['name']} [{result['model']}]" + (f": {'; '.join(result['problems'])}" if result["problems"] else judged))
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a *.evals.yaml file (schemas/evals.schema.json)")
    parser.add_argument("--junit", default=None, help="write JUnit XML here (one testsuite per model)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", action="append", default=[], help="run only the prompt of this name (repeatable)")
    parser.add_argument("--judge-url", default=None, help="the OpenAI-compatible endpoint (…/v1) grading `judge` expectations (over the file's judge.base_url)")
    parser.add_argument("--judge-model", default=None, help="the judge's model name (over the file's judge.model)")
    parser.add_argument("--judge-key-env", default=None, help=f"the environment variable holding the judge's API key (default ${JUDGE_KEY_ENV}, may be unset)")
