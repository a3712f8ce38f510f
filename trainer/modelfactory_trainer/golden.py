"""`golden FILE.evals.yaml [--junit OUT] [--json]`: golden prompts as tests, for CI.

The file (schemas/evals.schema.json) names a fine-tune config and lists prompts with expectations
(contains, not_contains, regex, equals, max_tokens). Each prompt is answered greedily by the base model
and by each adapter under the chat template training used (evaluate.py's `Models`), and checked. JUnit XML
has one testsuite per model and one testcase per prompt, a failure carrying what was expected and the
answer. Exit 0 when every check passes, 1 when one fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .errors import ConfigError, TrainerError
from .events import note
from .schemas import load_schema_json

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


def run_golden(path: Path, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Every prompt (or those named in `only`) against each model; an unknown name in `only` is refused."""
    from .config import load_config
    from .evaluate import HeldOut, Models

    evals = load_evals(path)
    if only:
        names = [prompt["name"] for prompt in evals["prompts"]]
        unknown = [name for name in only if name not in names]
        if unknown:
            raise ConfigError(f"{path.name}: no prompt named {', '.join(repr(name) for name in unknown)}")
        evals["prompts"] = [prompt for prompt in evals["prompts"] if prompt["name"] in only]
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
        results = run_golden(path, list(args.only or []))
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
            print(f"{mark} {result['name']} [{result['model']}]" + (f": {'; '.join(result['problems'])}" if result["problems"] else ""))
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a *.evals.yaml file (schemas/evals.schema.json)")
    parser.add_argument("--junit", default=None, help="write JUnit XML here (one testsuite per model)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", action="append", default=[], help="run only the prompt of this name (repeatable)")
