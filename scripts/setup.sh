#!/usr/bin/env bash
# `npm run setup`: everything the tests and the demo need beyond npm's packages, installed when missing
# and checked in well under a second when present:
#   - the trainer's Python environment (trainer/scripts/setup.sh: torch, transformers, peft, bitsandbytes…);
#   - Debian's postgresql, for the Datanet hub's tests (scripts/tools.sh apt);
#   - the pinned tools (scripts/tools.sh: chromium and libkrb5-dev from apt, Node 24, code-server, vsce).
# MODELFACTORY_SKIP_BROWSER=1 leaves out the browser tools, for a quick local run that skips the browser tiers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/trainer/scripts/setup.sh"
# The Datanet hub's tests start a throwaway PostgreSQL server from Debian's postgresql package.
bash "$root/scripts/tools.sh" apt postgresql
if [ "${MODELFACTORY_SKIP_BROWSER:-}" = "1" ]; then
  echo "*** MODELFACTORY_SKIP_BROWSER=1: chromium, code-server and vsce not installed; the browser tiers will be skipped ***" >&2
else
  bash "$root/scripts/tools.sh" >/dev/null
fi
