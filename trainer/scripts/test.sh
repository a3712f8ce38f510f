#!/usr/bin/env bash
# Sets up trainer/.venv when needed (idempotent, fast when done) and runs the trainer's tests on CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
cd "$here"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
exec "$here/.venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests "$@"
