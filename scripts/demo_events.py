"""Prints a trainer's JSON event stream (stdin) as one readable line per event, for the demo."""
import json
import sys

for line in sys.stdin:
    e = json.loads(line)
    kind = e["type"]
    if kind == "start":
        print(f"start: {e['train_records']} records, {e['total_steps']} steps on {e['device']}, "
              f"{e['trainable_params']:,} trainable parameters")
    elif kind == "log":
        print(f"step {e['step']:>4}/{e['total_steps']}  loss {e['loss']:.3f}  lr {e['learning_rate']:.2e}  "
              f"{e['tokens_per_second']:.0f} tok/s  eta {e['eta_seconds']:.0f}s")
    elif kind == "eval":
        print(f"eval loss {e['eval_loss']:.3f}")
    elif kind in ("done", "error", "oom", "cancelled"):
        print(kind + ": " + json.dumps({k: v for k, v in e.items() if k not in ("type", "time", "files")}))
    sys.stdout.flush()
