# Progress for long setup steps, sourced by the setup scripts.
#   with_progress LABEL WATCH CMD...   runs CMD, saying LABEL first; while it runs, a line every 15 s
#                                      with the time so far and how big the folder WATCH has grown;
#                                      at the end how long it took. Returns CMD's status.
with_progress() {
  local label="$1" watch="$2"
  shift 2
  local started=$SECONDS
  echo "$label" >&2
  (
    while sleep 15; do
      size=""
      [ -d "$watch" ] && size=", ${watch##*/} holds $(du -sh "$watch" 2>/dev/null | cut -f1)"
      echo "  ... $((SECONDS - started)) s${size}" >&2
    done
  ) &
  local ticker=$!
  local status=0
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$status" -eq 0 ]; then
    echo "  done in $((SECONDS - started)) s" >&2
  else
    echo "  failed after $((SECONDS - started)) s (exit $status)" >&2
  fi
  return "$status"
}
