#!/usr/bin/env bash
# `npm run setup`: everything the tests and the demo need beyond npm's packages, installed when missing
# and checked in well under a second when present:
#   - the trainer's Python environment (trainer/scripts/setup.sh: torch, transformers, peft, bitsandbytes…);
#   - the pinned tools (scripts/tools.sh: chromium and libkrb5-dev from apt, Node 24, code-server, vsce).
# MODELFACTORY_SKIP_BROWSER=1 leaves out the browser tools, for a quick local run that skips the browser tiers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/trainer/scripts/setup.sh"
if [ "${MODELFACTORY_SKIP_BROWSER:-}" = "1" ]; then
  echo "*** MODELFACTORY_SKIP_BROWSER=1: chromium, code-server and vsce not installed; the browser tiers will be skipped ***" >&2
else
  bash "$root/scripts/tools.sh" >/dev/null
fi
