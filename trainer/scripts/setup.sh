#!/usr/bin/env bash
# Creates trainer/.venv with the pinned dependencies. Idempotent: a venv whose stamp matches the
# requirements files is left alone, so a second run takes well under a second.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
python="${MODELFACTORY_PYTHON:-python3}"
stamp="$venv/.requirements.sha256"
want="$(cat "$here/requirements.txt" "$here/requirements-test.txt" "$here/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
echo "Setting up the trainer environment in $venv (first run downloads torch; later runs use pip's cache)" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" -r "$here/requirements-test.txt"
"$venv/bin/python" -m pip install --quiet --no-deps -e "$here"
echo "$want" > "$stamp"
