#!/usr/bin/env bash
# Builds the extension's .vsix: dist/<name>-<version>.vsix (git-ignored), and prints its path last.
#
#   bash scripts/package-vsix.sh [--commit REV]   (--commit: package a commit instead of the working tree)
#
# The production build runs in a staging copy of the working tree (tracked and untracked files that git
# does not ignore), so it never replaces the development bundles and source maps in ./dist that other
# tools are using, and no stale file from ./dist can slip into the package. vsce (Node 24) packages
# the staging copy; `.vscodeignore` decides what goes in, and this script checks the result holds only
# what runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"

name="$(node -p 'require("./package.json").name')"
version="$(node -p 'require("./package.json").version')"
vsix="$root/dist/$name-$version.vsix"

staging="$(mktemp -d "${TMPDIR:-/tmp}/modelfactory-vsix.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
if [ "${1:-}" = "--commit" ]; then
  git archive --format=tar "${2:?--commit needs a revision}" | tar -xf - -C "$staging"
else
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
      case "$file" in node_modules | node_modules/*) continue ;; esac
      [ -e "$file" ] && printf '%s\0' "$file"
    done |
    tar --null -T - -cf - | tar -xf - -C "$staging"
fi
ln -s "$root/node_modules" "$staging/node_modules"

echo "package: production build" >&2
(cd "$staging" && node esbuild.js --production)
[ -f "$staging/dist/client/extension.js" ] || {
  echo "package: no dist/client/extension.js (client/src/extension.ts is missing)" >&2
  exit 1
}

echo "package: vsce package" >&2
mkdir -p "$root/dist"
rm -f "$vsix"
# Everything is bundled, so vsce must not walk node_modules (--no-dependencies).
(cd "$staging" && with_node24 "$VSCE" package --no-dependencies --allow-missing-repository \
  --out "$vsix") >&2

# The package holds only what runs: the bundles, schemas (and the built-in chat templates the server and the
# trainer render), grammars, the trainer's sources, the docs.
# Anything else (tests, maps, node_modules, a venv, the CLI) is a packaging mistake.
entries="$(unzip -Z1 "$vsix")"
unexpected="$(grep -v -E '^(\[Content_Types\]\.xml|extension\.vsixmanifest|extension/(package\.json|(README|readme)\.md|LICENSE(\.txt)?|CHANGELOG\.md|dist/(client|server|webviews)/.*|schemas/.*\.(json|jinja)|syntaxes/.*\.json|walkthrough/.*\.md|trainer/(pyproject\.toml|requirements\.txt|modelfactory_trainer/.*\.py)))$' <<<"$entries" || true)"
forbidden="$(grep -E '(^|/)(node_modules|test|tests|\.venv|__pycache__|outputs)/|\.map$|\.pyc$|\.ts$' <<<"$entries" || true)"
if [ -n "$unexpected" ] || [ -n "$forbidden" ]; then
  echo "package: the .vsix holds files that do not run:" >&2
  printf '%s\n' "$unexpected" "$forbidden" | sort -u | sed '/^$/d; s/^/  /' >&2
  rm -f "$vsix"
  exit 1
fi
for required in extension/package.json extension/dist/client/extension.js extension/dist/server/server.js \
  extension/dist/webviews/hyperparameters.js extension/dist/webviews/dashboard.js extension/dist/webviews/playground.js \
  extension/trainer/modelfactory_trainer/__main__.py extension/trainer/requirements.txt \
  extension/schemas/chat-templates/fallback.jinja extension/schemas/chat-templates/chatml.jinja; do
  grep -qxF "$required" <<<"$entries" || {
    echo "package: the .vsix lacks $required" >&2
    rm -f "$vsix"
    exit 1
  }
done
# Every file package.json points at (main, grammars, walkthrough pages) must be in the package.
for referenced in $(node -e '
  const p = require(process.argv[1]);
  const files = [p.main, ...(p.contributes.grammars || []).map((g) => g.path)];
  for (const w of p.contributes.walkthroughs || []) for (const s of w.steps) if (s.media && s.media.markdown) files.push(s.media.markdown);
  console.log(files.map((f) => "extension/" + f.replace(/^\.\//, "")).join("\n"));
' "$root/package.json"); do
  grep -qxF "$referenced" <<<"$entries" || {
    echo "package: package.json refers to ${referenced#extension/}, which the .vsix lacks" >&2
    rm -f "$vsix"
    exit 1
  }
done
echo "package: $(wc -l <<<"$entries") files, $(du -h "$vsix" | cut -f1)" >&2
echo "$vsix"
