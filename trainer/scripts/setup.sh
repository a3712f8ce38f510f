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
# shellcheck source=scripts/progress.sh
source "$here/../scripts/progress.sh"
echo "Setting up the trainer environment in $venv" >&2
"$python" -m venv "$venv"
with_progress "trainer [1/3]: upgrading pip" "$venv" "$venv/bin/python" -m pip install --quiet --upgrade pip
# pip says what it collects and downloads (torch with its CUDA libraries is a few GB the first time; later
# runs install from pip's cache); the ticker says how long it has been and how big the environment is.
with_progress "trainer [2/3]: installing torch, transformers, peft, bitsandbytes and the test tools (minutes the first time)" "$venv" \
  "$venv/bin/python" -m pip install --progress-bar off -r "$here/requirements.txt" -r "$here/requirements-test.txt"
# setuptools warns about every editable install, even under --quiet: its output is shown only on failure.
install_editable() {
  local log
  log="$(mktemp)"
  "$venv/bin/python" -m pip install --quiet --no-deps -e "$here" >"$log" 2>&1 || {
    cat "$log" >&2
    rm -f "$log"
    return 1
  }
  # The ray extra (serve --executor ray, and its tests): installed with its dependencies, pinned in pyproject.toml.
  "$venv/bin/python" -m pip install --quiet --progress-bar off -e "$here[ray]" >"$log" 2>&1 || {
    cat "$log" >&2
    rm -f "$log"
    return 1
  }
  rm -f "$log"
}
with_progress "trainer [3/3]: installing modelfactory_trainer[ray] (editable)" "$venv" install_editable
echo "$want" > "$stamp"
