#!/usr/bin/env bash
# Runs a command with TMPDIR pointing at a fresh folder of its own, and removes that folder when the
# command ends, however it ends. The test suites create hundreds of temporary workspaces, databases and
# tokenizer caches; a test that fails (or is killed by its timeout) before its own cleanup would
# otherwise leave them behind, and repeated runs filled the disk of the machine that runs CI.
#   bash scripts/scoped-tmp.sh CMD [ARGS...]
set -euo pipefail
base="${TMPDIR:-/tmp}"
scope="$(mktemp -d "${base%/}/mf-run-XXXXXX")"
# Like /tmp itself (sticky, writable by all): the tests run PostgreSQL as its own user, with its data in here.
chmod 1777 "$scope"
cleanup() { rm -rf -- "$scope"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export TMPDIR="$scope"
"$@"
