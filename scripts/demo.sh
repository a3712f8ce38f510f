#!/usr/bin/env bash
# `npm run demo`: the product on its sample workspace, in VS Code in your browser (code-server).
#   1. set up: npm packages, the trainer's Python environment, the pinned tools (scripts/tools.sh),
#      the extension's .vsix (scripts/package-vsix.sh);
#   2. start code-server on 127.0.0.1 (port $PORT, default 8080, or the next free one) with the
#      extension installed, the trainer's interpreter in the user settings and a copy of
#      samples/workspace opened;
#   3. print the URL and what to try; stay in the foreground until Ctrl+C, then stop code-server and
#      everything it started (the local trainer included).
#
#   bash scripts/demo.sh [--cli] [WORKSPACE]
#     --cli       the command-line loop instead: lint the workspace, fine-tune builtin:tiny-llama, chat
#     WORKSPACE   a folder to open instead of the sample (default: a copy of samples/workspace)
#   MODELFACTORY_DEMO   the demo's folder: code-server's profile, extensions, log, workspace copy
#                       (default ~/.cache/modelfactory/demo; profile and copy are fresh on each run)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cli=false
if [ "${1:-}" = "--cli" ]; then
  cli=true
  shift
fi

step "Setting up"
[ -d node_modules ] || npm ci --no-fund --no-audit
bash trainer/scripts/setup.sh
python="$root/trainer/.venv/bin/python"

# The command-line loop: lint, fine-tune the tiny model with LoRA (CPU, < 1 minute), chat with the base
# model and with the trained adapter on the same prompt.
cli_demo() {
  local workspace="$1"
  npm run --silent build
  step "Linting the sample workspace ($workspace)"
  node bin/modelfactory.js lint "$workspace" || true

  step "Fine-tuning builtin:tiny-llama with LoRA ($workspace/tiny.finetune.yaml)"
  local events adapter
  events="$(mktemp)"
  "$python" -m modelfactory_trainer train "$workspace/tiny.finetune.yaml" 2>/dev/null | tee "$events" |
    "$python" "$root/scripts/demo_events.py"
  adapter="$("$python" -c 'import json,sys; print(next((e["adapter_dir"] for e in map(json.loads, open(sys.argv[1])) if e["type"] == "done"), ""))' "$events")"
  rm -f "$events"
  [ -n "$adapter" ] || {
    echo "training did not finish" >&2
    exit 1
  }

  local prompt="How do I start a training run?"
  # The training records carry this system prompt; the adapter learned to answer under it.
  local system="You answer questions about ModelFactory briefly."
  step "Chat: base model"
  "$python" -m modelfactory_trainer chat --base builtin:tiny-llama --system "$system" --prompt "$prompt" --max-new-tokens 64 --temperature 0 2>/dev/null
  step "Chat: base model + adapter ($adapter)"
  "$python" -m modelfactory_trainer chat --base builtin:tiny-llama --adapter "$adapter" --system "$system" --prompt "$prompt" --max-new-tokens 64 --temperature 0 2>/dev/null
  echo
}

if $cli; then
  cli_demo "${1:-$root/samples/workspace}"
  exit 0
fi

# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
step "Packaging the extension"
vsix="$(bash scripts/package-vsix.sh 2>/dev/null | tail -n 1)"
echo "$vsix"

demo="${MODELFACTORY_DEMO:-$HOME/.cache/modelfactory/demo}"
rm -rf "$demo/user" "$demo/extensions" "$demo/workspace"
mkdir -p "$demo/user/User" "$demo/user/Machine" "$demo/extensions"
if [ -n "${1:-}" ]; then
  workspace="$(cd "$1" && pwd)"
else
  # A copy, so what you edit and train in the demo leaves the repository's sample as it is.
  workspace="$demo/workspace"
  mkdir -p "$workspace"
  (cd samples/workspace && tar --exclude=./outputs -cf - .) | tar -xf - -C "$workspace"
fi
printf 'auth: none\ncert: false\n' >"$demo/config.yaml"
# code-server runs the extension host on the server, so `machine`-scoped settings (the trainer's
# interpreter) belong in the server's Machine settings; User settings would be ignored for them.
cat >"$demo/user/Machine/settings.json" <<EOF
{
  "modelfactory.trainer.pythonPath": "$python"
}
EOF
# Workspace trust is off in this profile only (its own user-data-dir), so the sample opens trusted.
cat >"$demo/user/User/settings.json" <<EOF
{
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "update.mode": "none",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden"
}
EOF
code_server=(env "PATH=$NODE24_HOME/bin:$PATH" "$CODE_SERVER" --config "$demo/config.yaml" --user-data-dir "$demo/user"
  --extensions-dir "$demo/extensions")
"${code_server[@]}" --install-extension "$vsix" --force >/dev/null

port="$(node -e '
const net = require("net");
const tryPort = (port) => {
  const server = net.createServer();
  server.once("error", () => tryPort(port + 1));
  server.listen(port, "127.0.0.1", () => server.close(() => console.log(port)));
};
tryPort(Number(process.argv[1]));' "${PORT:-8080}")"

step "Starting code-server on 127.0.0.1:$port"
# Its own session (setsid), so stopping its process group stops the extension host and language server.
setsid "${code_server[@]}" --bind-addr "127.0.0.1:$port" --auth none --disable-telemetry \
  --disable-update-check "$workspace" >"$demo/code-server.log" 2>&1 &
server_pid=$!

# Every process below code-server, detached ones (the local trainer) included, then code-server's group.
stop_demo() {
  trap - INT TERM EXIT
  local started pid
  started="$(ps -e -o pid=,ppid= | awk -v root="$server_pid" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root) print p } }')"
  kill -TERM -- "-$server_pid" 2>/dev/null || true
  for pid in $started; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in $server_pid $started; do kill -KILL "$pid" 2>/dev/null || true; done
  echo "code-server stopped." >&2
}
trap 'echo; stop_demo; exit 0' INT TERM
trap stop_demo EXIT

url="http://127.0.0.1:$port/?folder=$workspace"
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || {
    cat "$demo/code-server.log" >&2
    exit 1
  }
  sleep 0.5
done

cat <<EOF

  ╭──────────────────────────────────────────────────────────────────────────────╮
    ModelFactory is running in VS Code at:

      $url

    Try:
      1. Open support/rejected/contribution-2026-11-24.jsonl (Ctrl+P): every defect
         is underlined; the Problems panel (Ctrl+Shift+M) names its rule.
      2. Open tiny.finetune.yaml, then "ModelFactory: Open Hyperparameter Panel"
         (Ctrl+Shift+P): change the LoRA rank and watch the YAML follow; Ctrl+Z undoes.
      3. "ModelFactory: Train": the tiny model trains on this CPU in under a minute;
         the job dashboard draws the loss curve.
      4. "ModelFactory: Open Chat Playground": ask "How do I start a training run?"
         and compare the base model with your adapter.

    Workspace: $workspace
    Logs:      $demo/code-server.log
    Ctrl+C stops it.
  ╰──────────────────────────────────────────────────────────────────────────────╯
EOF
wait "$server_pid"
