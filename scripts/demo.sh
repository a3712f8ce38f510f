#!/usr/bin/env bash
# The product's main job on the embedded sample workspace, from a fresh clone:
#   1. set up (npm packages, the bundles, the trainer's Python environment),
#   2. lint the sample workspace the way the editor does (a Datanet with defects, three configs),
#   3. fine-tune the built-in tiny model on the Datanet's training file with LoRA (CPU, < 1 minute),
#   4. chat with the base model and with the trained adapter on the same prompt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
workspace="${1:-$root/samples/workspace}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Setting up"
[ -d node_modules ] || npm ci --no-fund --no-audit
npm run --silent build
bash trainer/scripts/setup.sh
python="$root/trainer/.venv/bin/python"

step "Linting the sample workspace ($workspace)"
node bin/modelfactory.js lint "$workspace" || true

step "Fine-tuning builtin:tiny-llama with LoRA ($workspace/tiny.finetune.yaml)"
events="$(mktemp)"
"$python" -m modelfactory_trainer train "$workspace/tiny.finetune.yaml" 2>/dev/null | tee "$events" |
  "$python" "$root/scripts/demo_events.py"
adapter="$("$python" -c 'import json,sys; print(next((e["adapter_dir"] for e in map(json.loads, open(sys.argv[1])) if e["type"] == "done"), ""))' "$events")"
rm -f "$events"
[ -n "$adapter" ] || { echo "training did not finish" >&2; exit 1; }

prompt="How do I start a training run?"
# The training records carry this system prompt; the adapter learned to answer under it.
system="You answer questions about ModelFactory briefly."
step "Chat: base model"
"$python" -m modelfactory_trainer chat --base builtin:tiny-llama --system "$system" --prompt "$prompt" --max-new-tokens 64 --temperature 0 2>/dev/null
step "Chat: base model + adapter ($adapter)"
"$python" -m modelfactory_trainer chat --base builtin:tiny-llama --adapter "$adapter" --system "$system" --prompt "$prompt" --max-new-tokens 64 --temperature 0 2>/dev/null
echo
