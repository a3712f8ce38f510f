"""The one loader of the repository's `schemas/` files in the trainer (the contracts shared with TypeScript).

`schemas/` sits beside the package in the repository (an editable install). An install elsewhere points at it
with `MODELFACTORY_FINETUNE_SCHEMA` (the fine-tune schema; every other schema file is looked up beside it) and,
for the protocol schema alone, `MODELFACTORY_PROTOCOL_SCHEMA`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError

FINETUNE_SCHEMA_ENV = "MODELFACTORY_FINETUNE_SCHEMA"
PROTOCOL_SCHEMA_ENV = "MODELFACTORY_PROTOCOL_SCHEMA"
FINETUNE = "finetune.schema.json"
PROTOCOL = "trainer-protocol.schema.json"


def schema_file(name: str) -> Path:
    """The path of `schemas/<name>` (name may hold a subfolder: `records/contract.json`)."""
    if name == PROTOCOL and os.environ.get(PROTOCOL_SCHEMA_ENV):
        return Path(os.environ[PROTOCOL_SCHEMA_ENV])
    configured = os.environ.get(FINETUNE_SCHEMA_ENV)
    finetune = Path(configured) if configured else Path(__file__).resolve().parents[2] / "schemas" / FINETUNE
    return finetune if name == FINETUNE else finetune.parent / name


def load_schema_json(name: str) -> Any:
    """The parsed JSON of `schemas/<name>`; a ConfigError that names the path (and the variable to set) if unreadable."""
    path = schema_file(name)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {path} (set {FINETUNE_SCHEMA_ENV}): {exc}") from exc
