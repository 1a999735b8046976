#!/usr/bin/env bash
# install.sh - install, upgrade or remove the CodeDeploy agent on a Linux host.
#
# Installs a release (a tarball from scripts/build-release.sh or `npm pack`, or an unpacked
# release directory) into <prefix> (/opt/codedeploy-agent) with its own production dependencies,
# writes the default config only when there is none, creates the directories with safe modes,
# and installs and enables the systemd unit when systemd runs this host.
#
# Decisions:
# - Idempotent: a release is identified by a fingerprint (content of its files + the Node ABI),
#   kept in <prefix>/.release. Running again with the same release and Node changes nothing;
#   everything else (config, directories, unit, launchers) is compared before it is written.
# - Upgrades never half-replace a working install: the new program is staged in <prefix>.new
#   (npm ci there, then a smoke run), and only then swapped in entry by entry. Entries the
#   installer does not own (deployment-root/, anything an operator added) never move.
# - Production dependencies come from the release's lock file (npm ci --omit=dev), nothing
#   global. Native modules (better-sqlite3) use the release's prebuilds/ when they match this
#   host (prebuild-install's local-prebuilds), else npm downloads or compiles them as usual.
# - DESTDIR is prefixed to every path written (packaging, CI); files keep the real paths inside.
#   With DESTDIR set, systemctl is never called and root is not required.
# - Nothing is removed through a path that is empty, relative or a system directory.
set -euo pipefail
umask 022

readonly PROG=install.sh
readonly SERVICE=codedeploy-agent.service
readonly NODE_MAJOR_MIN=20
# What the installer owns inside <prefix>: replaced on upgrade, removed by --uninstall.
readonly PROGRAM_ENTRIES="dist node_modules conf package.json npm-shrinkwrap.json package-lock.json README.md LICENSE"
# The files of a release the installer reads (the rest of a source tree is ignored).
readonly RELEASE_ENTRIES="$PROGRAM_ENTRIES systemd scripts/install.sh scripts/logrotate prebuilds"

usage() {
  cat <<'EOF'
Usage: install.sh [--from <release.tgz | release-dir>] [options]
       install.sh --uninstall [--purge] [options]

Installs the CodeDeploy agent (TypeScript) into <prefix> with its production dependencies,
writes <config-dir>/codedeployagent.yml if it does not exist, creates the deployment root
(0700) and log directory (0750), installs /etc/logrotate.d/codedeploy-agent and the systemd
unit, and enables and (re)starts the service when systemd is running. Running it again with
the same release changes nothing; a newer release is installed in place (config and
deployment history are kept).

Options:
  --from PATH          Release tarball (scripts/build-release.sh, npm pack) or directory
                       [default: the release this script belongs to]
  --prefix DIR         Install directory [default: /opt/codedeploy-agent]
  --config-dir DIR     Configuration directory [default: /etc/codedeploy-agent/conf]
  --log-dir DIR        Agent log directory [default: /var/log/aws/codedeploy-agent]
  --bin-dir DIR        Where to link codedeploy-agent and codedeploy-local
                       [default: /usr/local/bin; "" for no links]
  --node PATH          Node.js binary to run the agent with [default: node on PATH]
  --no-systemd         Do not install the systemd unit or call systemctl (containers)
  --no-start           Install and enable the service, but do not start it (e.g. before
                       registering an on-premises instance)
  --force              Reinstall the program files even if this release is installed
  --uninstall          Remove the program, unit, links and logrotate policy; keep the
                       deployment history (root_dir), the config and the logs
  --purge              With --uninstall: remove those too
  -h, --help           Show this help

Environment:
  DESTDIR              Staging root prefixed to every path written (packaging, CI); systemctl
                       is not called and root is not required
  NPM_CONFIG_OFFLINE   true: install dependencies from the npm cache only
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Arguments

from=''
prefix=/opt/codedeploy-agent
config_dir=/etc/codedeploy-agent/conf
log_dir=/var/log/aws/codedeploy-agent
bin_dir=/usr/local/bin
node_arg=''
use_systemd=1
start_service=1
force=0
uninstall=0
purge=0

need_value() {
  [ "$#" -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    --from | --prefix | --config-dir | --log-dir | --bin-dir | --node)
      need_value "$@"
      opt=$1 value=$2
      shift 2
      ;;
    --from=* | --prefix=* | --config-dir=* | --log-dir=* | --bin-dir=* | --node=*)
      opt=${1%%=*} value=${1#*=}
      shift
      ;;
    --no-systemd) use_systemd=0; shift; continue ;;
    --no-start) start_service=0; shift; continue ;;
    --force) force=1; shift; continue ;;
    --uninstall) uninstall=1; shift; continue ;;
    --purge) purge=1; shift; continue ;;
    -h | --help | help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  case "$opt" in
    --from) from=$value ;;
    --prefix) prefix=$value ;;
    --config-dir) config_dir=$value ;;
    --log-dir) log_dir=$value ;;
    --bin-dir) bin_dir=$value ;;
    --node) node_arg=$value ;;
  esac
done
[ "$purge" = 0 ] || [ "$uninstall" = 1 ] || die "--purge only goes with --uninstall"

DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}

# An absolute, normalised path of safe characters (it is substituted into files with sed and
# written into a unit file), without a trailing slash.
check_path() { # <option> <value>
  local name=$1 p=$2
  [ -n "$p" ] || die "$name must not be empty"
  case "$p" in /*) ;; *) die "$name must be an absolute path, not '$p'" ;; esac
  case "$p" in *[!A-Za-z0-9._/@+-]*) die "$name '$p' has characters other than letters, digits and . _ / @ + -" ;; esac
  case "/$p/" in */./* | */../*) die "$name '$p' must not contain . or .. components" ;; esac
  while [ "${p%/}" != "$p" ] && [ "$p" != / ]; do p=${p%/}; done
  printf '%s' "$p"
}

# True for paths that must never be removed recursively: / and the system directories next to
# it, whatever the flags or the config say.
is_protected() { # <real path>
  local p=$1 depth
  depth=$(printf '%s' "$p" | tr -cd / | wc -c)
  [ "$depth" -ge 2 ] || return 0
  case "$p" in
    /etc/*codedeploy*) ;;
    /usr/* | /etc/* | /var/* | /home/* | /boot/* | /proc/* | /sys/* | /dev/* | /run/* | /lib*/* | /bin/* | /sbin/*)
      [ "$depth" -ge 3 ] || return 0 ;;
  esac
  return 1
}

prefix=$(check_path --prefix "$prefix")
config_dir=$(check_path --config-dir "$config_dir")
log_dir=$(check_path --log-dir "$log_dir")
[ -z "$bin_dir" ] || bin_dir=$(check_path --bin-dir "$bin_dir")
is_protected "$prefix" && die "--prefix $prefix is a system directory; use a directory of its own, e.g. /opt/codedeploy-agent"
is_protected "$log_dir" && die "--log-dir $log_dir is a system directory; use a directory of its own"
is_protected "$config_dir" && die "--config-dir $config_dir is a system directory; use a directory of its own"
[ -z "$DESTDIR" ] || case "$DESTDIR" in /*) ;; *) die "DESTDIR must be an absolute path, not '$DESTDIR'" ;; esac

if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0 ...), or set DESTDIR to install into a staging directory"
fi

# Real paths (as the running agent sees them) and where they are written (under DESTDIR).
readonly prefix config_dir log_dir bin_dir
readonly P="$DESTDIR$prefix"
readonly CONFIG_FILE="$config_dir/codedeployagent.yml"
readonly UNIT_PATH="/etc/systemd/system/$SERVICE"
readonly LOGROTATE_PATH=/etc/logrotate.d/codedeploy-agent

systemd_active() {
  [ -z "$DESTDIR" ] && [ "$use_systemd" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

# rm -rf of a real path (DESTDIR is added here), refusing anything empty or protected.
remove_tree() { # <real path>
  local p=$1
  [ -n "$p" ] || die "internal: refusing to remove an empty path"
  case "$p" in /*) ;; *) die "internal: refusing to remove relative path '$p'" ;; esac
  case "/$p/" in */../*) die "internal: refusing to remove '$p' (has ..)" ;; esac
  is_protected "$p" && die "refusing to remove $p: it is a system directory"
  rm -rf -- "${DESTDIR}${p}"
}

# --purge of a directory named by the config: skipped, with a warning, when it is protected.
purge_tree() { # <real path>
  if is_protected "$1"; then
    warn "not removing $1: it is a system directory; remove the agent's files there yourself"
    return 0
  fi
  remove_tree "$1"
}

# ---------------------------------------------------------------------------------------------
# Idempotent writes

file_mode() { stat -c %a "$1"; }

# Create a directory (and parents) and set its mode; nothing changes when both are right.
ensure_dir() { # <written path> <mode>
  [ -d "$1" ] || mkdir -p -- "$1"
  [ "$(file_mode "$1")" = "${2#0}" ] || chmod "$2" -- "$1"
}

# Install <src> as <dest> with <mode> unless it already has that content and mode. Returns 0
# when something changed, 1 when not. The write is atomic (temp file + rename).
install_file() { # <src> <dest> <mode>
  local src=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s -- "$src" "$dest"; then
    [ "$(file_mode "$dest")" = "${mode#0}" ] && return 1
    chmod "$mode" -- "$dest"
    return 0
  fi
  mkdir -p -- "$(dirname -- "$dest")"
  cp -- "$src" "$dest.tmp.$$"
  chmod "$mode" -- "$dest.tmp.$$"
  mv -f -- "$dest.tmp.$$" "$dest"
  return 0
}

# The default paths in conf/, the unit and the logrotate policy, replaced by this install's.
render() { # <template> <output> [<root_dir>]
  local root=${3:-$prefix/deployment-root}
  sed -e "s|/opt/codedeploy-agent/deployment-root|$root|g" \
    -e "s|/opt/codedeploy-agent|$prefix|g" \
    -e "s|/var/log/aws/codedeploy-agent|$log_dir|g" \
    -e "s|/etc/codedeploy-agent/conf|$config_dir|g" "$1" >"$2"
}

# ---------------------------------------------------------------------------------------------
# Node.js

node_help() {
  cat >&2 <<EOF

The agent needs Node.js $NODE_MAJOR_MIN or later (with npm). To install it:
  Debian / Ubuntu:     curl -fsSL https://deb.nodesource.com/setup_20.x | sudo bash - && sudo apt-get install -y nodejs
                       (or, on Debian 13 / Ubuntu 24.04 and later: sudo apt-get install -y nodejs npm)
  Amazon Linux 2023:   sudo dnf install -y nodejs20 nodejs20-npm
                       then run this script with --node /usr/bin/node-20
  RHEL / Rocky / Alma 8 and 9:  sudo dnf module install -y nodejs:20
  Any distribution:    the Linux binaries from https://nodejs.org/en/download (then --node <dir>/bin/node)
Amazon Linux 2 is too old for Node.js $NODE_MAJOR_MIN (glibc 2.26); use Amazon Linux 2023.
EOF
}

NODE=''
find_node() {
  if [ -n "$node_arg" ]; then
    NODE=$node_arg
    if [ ! -f "$NODE" ] || [ ! -x "$NODE" ]; then
      printf '%s: error: --node %s is not an executable file\n' "$PROG" "$NODE" >&2
      node_help
      exit 1
    fi
  else
    NODE=$(command -v node 2>/dev/null || true)
    [ -n "$NODE" ] || { printf '%s: error: Node.js was not found (no "node" on PATH)\n' "$PROG" >&2; node_help; exit 1; }
  fi
  case "$NODE" in /*) ;; *) NODE="$(cd "$(dirname -- "$NODE")" && pwd)/$(basename -- "$NODE")" ;; esac
  case "$NODE" in *"'"* | *\\*) die "the path of node ($NODE) must not contain quotes or backslashes" ;; esac
  local version major
  version=$("$NODE" --version 2>/dev/null | head -n 1 || true)
  major=${version#v}
  major=${major%%.*}
  case "$major" in
    '' | *[!0-9]*) printf '%s: error: cannot tell the version of %s (it printed "%s")\n' "$PROG" "$NODE" "$version" >&2; node_help; exit 1 ;;
  esac
  if [ "$major" -lt "$NODE_MAJOR_MIN" ]; then
    printf '%s: error: Node.js %s at %s is too old: the agent needs Node.js %s or later\n' "$PROG" "$version" "$NODE" "$NODE_MAJOR_MIN" >&2
    node_help
    exit 1
  fi
  say "using Node.js $version ($NODE)"
}

NPM=''
find_npm() {
  local dir suffix
  dir=$(dirname -- "$NODE")
  suffix=$(basename -- "$NODE")
  suffix=${suffix#node} # node-20 -> npm-20 (Amazon Linux 2023's versioned packages)
  if [ -n "$suffix" ] && [ -x "$dir/npm$suffix" ]; then NPM="$dir/npm$suffix"
  elif [ -x "$dir/npm" ]; then NPM="$dir/npm"
  else NPM=$(command -v npm 2>/dev/null || true); fi
  [ -n "$NPM" ] || { printf '%s: error: npm was not found next to %s nor on PATH\n' "$PROG" "$NODE" >&2; node_help; exit 1; }
}

# ---------------------------------------------------------------------------------------------
# Effective directories: the config's root_dir/log_dir/pid_dir when there is a config, else this
# install's defaults. The agent's own loader reads it when the agent is installed (so both
# agree); after --uninstall, the plain ":key: value" lines are read instead.

root_dir="$prefix/deployment-root"
pid_dir="$prefix/state/.pid"
agent_log_dir=$log_dir

config_key() { # <file> <key>: the value of the last ":key: value" line, unquoted
  sed -n -E "s/^:?$2:[[:space:]]*['\"]?([^'\"#]*[^'\"#[:space:]])['\"]?[[:space:]]*(#.*)?\$/\1/p" "$1" | tail -n 1
}

read_config_dirs() { # <dist dir>
  local file="$DESTDIR$CONFIG_FILE" loader="$1/agent/config/agent-config.js" out node r='' l='' d=''
  [ -f "$file" ] || return 0
  node=${NODE:-$(command -v node 2>/dev/null || true)}
  if [ -f "$loader" ] && [ -n "$node" ]; then
    if ! out=$("$node" --input-type=module -e '
        const { loadAgentConfig } = await import(process.argv[1]);
        const { config } = await loadAgentConfig(process.argv[2]);
        console.log([config.rootDir, config.logDir, config.pidDir].join("\n"));
      ' "file://$loader" "$file" 2>&1); then
      warn "could not read $CONFIG_FILE ($out); using the default directories"
      return 0
    fi
  else
    out=$(printf '%s\n%s\n%s\n' "$(config_key "$file" root_dir)" "$(config_key "$file" log_dir)" "$(config_key "$file" pid_dir)")
  fi
  { IFS= read -r r || true; IFS= read -r l || true; IFS= read -r d || true; } <<<"$out"
  if ! { r=$(check_path root_dir "${r:-$root_dir}" 2>/dev/null) && l=$(check_path log_dir "${l:-$agent_log_dir}" 2>/dev/null) && d=$(check_path pid_dir "${d:-$pid_dir}" 2>/dev/null); }; then
    warn "$CONFIG_FILE names unusual directories; using the default ones"
    return 0
  fi
  root_dir=$r agent_log_dir=$l pid_dir=$d
}

# ---------------------------------------------------------------------------------------------
# Uninstall

remove_link() { # <link> <expected target>
  if [ -L "$1" ] && [ "$(readlink -- "$1")" = "$2" ]; then rm -f -- "$1"; fi
}

remove_dir_if_empty() { # <real path>
  if ! is_protected "$1" && [ -d "$DESTDIR$1" ]; then rmdir -- "$DESTDIR$1" 2>/dev/null || true; fi
}

do_uninstall() {
  if systemd_active && [ -e "$UNIT_PATH" ]; then
    say "stopping and disabling $SERVICE (waits for running deployments)"
    systemctl disable --now "$SERVICE" || warn "systemctl disable --now $SERVICE failed"
  fi
  read_config_dirs "$P/dist"
  rm -f -- "$DESTDIR$UNIT_PATH" "$DESTDIR$LOGROTATE_PATH"
  if systemd_active; then systemctl daemon-reload || true; fi
  if [ -n "$bin_dir" ]; then
    remove_link "$DESTDIR$bin_dir/codedeploy-agent" "$prefix/bin/codedeploy-agent"
    remove_link "$DESTDIR$bin_dir/codedeploy-local" "$prefix/bin/codedeploy-local"
  fi
  local e
  for e in $PROGRAM_ENTRIES bin .release state; do remove_tree "$prefix/$e"; done
  rm -rf -- "$P.new" "$P.old"
  if [ "$purge" = 1 ]; then
    purge_tree "$root_dir"
    purge_tree "$config_dir"
    remove_dir_if_empty "$(dirname -- "$config_dir")"
    purge_tree "$agent_log_dir"
    [ "$agent_log_dir" = "$log_dir" ] || purge_tree "$log_dir"
    remove_dir_if_empty "$(dirname -- "$log_dir")"
    say "removed the agent, its deployment history ($root_dir), config ($config_dir) and logs ($agent_log_dir)"
  else
    say "removed the agent; kept the deployment history ($root_dir), the config ($CONFIG_FILE) and the logs ($agent_log_dir). --uninstall --purge removes them."
  fi
  remove_dir_if_empty "$prefix"
}

if [ "$uninstall" = 1 ]; then
  do_uninstall
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Install: find the release

script_dir=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -z "$from" ]; then
  if [ -f "$script_dir/../package.json" ] && [ -f "$script_dir/../dist/agent/cli/codedeploy-agent.js" ]; then
    from=$(cd "$script_dir/.." && pwd)
  else
    die "no release next to this script; give one with --from <release.tgz | dir> (scripts/build-release.sh makes one)"
  fi
fi
[ -e "$from" ] || die "--from $from does not exist"

if [ -d "$P/lib/instance_agent" ] || [ -f "$P/bin/install" ]; then
  die "the official (Ruby) CodeDeploy agent is installed in $prefix. Remove its package first (sudo yum erase codedeploy-agent, or sudo dpkg --purge codedeploy-agent); keep $prefix/deployment-root, this agent reads the same deployment history."
fi

find_node

work=''
staged=0
cleanup() {
  [ -z "$work" ] || rm -rf -- "$work"
  if [ "$staged" = 1 ]; then rm -rf -- "$P.new"; fi
}
trap cleanup EXIT
work=$(mktemp -d "${TMPDIR:-/tmp}/codedeploy-agent-install.XXXXXX")
rel="$work/release"
mkdir -p "$rel"

if [ -d "$from" ]; then
  src=$(cd "$from" && pwd)
else
  mkdir -p "$work/unpacked"
  tar -xzf "$from" -C "$work/unpacked" --no-same-owner 2>/dev/null || tar -xf "$from" -C "$work/unpacked" --no-same-owner ||
    die "--from $from is neither a release directory nor a readable .tgz/.tar"
  src="$work/unpacked"
  [ -d "$src/package" ] && src="$src/package" # npm pack puts everything under package/
fi
[ -f "$src/package.json" ] || die "$from holds no package.json: not an agent release"
[ -f "$src/dist/agent/cli/codedeploy-agent.js" ] || die "$from has no dist/agent/cli/codedeploy-agent.js: build it first (npm run build, or scripts/build-release.sh)"

for e in $RELEASE_ENTRIES; do
  if [ -e "$src/$e" ]; then
    mkdir -p "$rel/$(dirname -- "$e")"
    cp -R -- "$src/$e" "$rel/$e"
  fi
done
# Modes as a package manager would set them, whatever the tarball or checkout carried.
find "$rel" -type d -exec chmod 0755 {} +
find "$rel" -type f -exec chmod 0644 {} +

version=$("$NODE" -p 'const p = require(process.argv[1]); if (p.name !== "codedeploy-agent-ts") throw new Error("package " + p.name); p.version' "$rel/package.json" 2>/dev/null) ||
  die "$from/package.json is not the codedeploy-agent-ts package"
abi=$("$NODE" -p '[process.versions.modules, process.platform, process.arch].join("-")')
fingerprint=$({
  (cd "$rel" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  printf 'node-abi %s\n' "$abi"
} | sha256sum | cut -d ' ' -f 1)
release_record=$(printf 'version: %s\nfingerprint: %s\nnode_abi: %s\n' "$version" "$fingerprint" "$abi")

template() { # <path in a release>: from the release, else next to this script
  if [ -f "$rel/$1" ]; then printf '%s' "$rel/$1"; elif [ -f "$script_dir/../$1" ]; then printf '%s' "$script_dir/../$1"; else die "$1 is missing from the release and from $script_dir/.."; fi
}
unit_template=$(template systemd/codedeploy-agent.service)
logrotate_template=$(template scripts/logrotate/codedeploy-agent)
[ -f "$rel/conf/codedeployagent.yml" ] || die "$from has no conf/codedeployagent.yml"

# ---------------------------------------------------------------------------------------------
# Install: program files

program_changed=0
was_active=0
if [ "$force" = 0 ] && [ -f "$P/.release" ] && [ "$(cat "$P/.release")" = "$release_record" ] && [ -d "$P/node_modules" ] && [ -d "$P/dist" ]; then
  say "codedeploy-agent $version is already installed in $prefix; program files unchanged"
else
  find_npm
  say "installing codedeploy-agent $version into $prefix"
  rm -rf -- "$P.new" "$P.old"
  staged=1
  mkdir -p "$P.new"
  for e in $PROGRAM_ENTRIES; do
    if [ -e "$rel/$e" ]; then cp -R -- "$rel/$e" "$P.new/$e"; fi
  done
  # npm and the dependencies' install scripts run "node" from PATH: make that the chosen one.
  mkdir -p "$work/node-bin"
  ln -sf -- "$NODE" "$work/node-bin/node"
  npm_path="$work/node-bin:$PATH"
  if [ -d "$rel/prebuilds" ]; then
    # prebuild-install (better-sqlite3's install script) looks for .prebuild-installrc upwards
    # from the package directory, and takes a matching prebuild from here before downloading.
    printf 'local-prebuilds=%s\n' "$rel/prebuilds" >"$P.new/.prebuild-installrc"
  fi
  if [ -f "$P.new/npm-shrinkwrap.json" ] || [ -f "$P.new/package-lock.json" ]; then
    (cd "$P.new" && PATH=$npm_path "$NPM" ci --omit=dev --ignore-scripts=false --prefer-offline --no-audit --no-fund --loglevel=error) ||
      die "npm ci failed (the installed version, if any, is untouched). With NPM_CONFIG_OFFLINE=true the npm cache must hold every package."
  else
    warn "the release has no package-lock.json or npm-shrinkwrap.json; resolving dependencies with npm install (not reproducible)"
    (cd "$P.new" && PATH=$npm_path "$NPM" install --omit=dev --no-package-lock --ignore-scripts=false --prefer-offline --no-audit --no-fund --loglevel=error) ||
      die "npm install failed (the installed version, if any, is untouched)"
  fi
  rm -f -- "$P.new/.prebuild-installrc"
  smoke=$("$NODE" "$P.new/dist/agent/cli/codedeploy-agent.js" version 2>&1) || die "the staged agent does not run: $smoke"

  if systemd_active && systemctl is-active --quiet "$SERVICE"; then
    say "stopping $SERVICE for the upgrade (waits for running deployments)"
    systemctl stop "$SERVICE"
    was_active=1
  fi
  # The swap: per entry, the old one out and the new one in right after. Entries the installer
  # does not own (deployment-root/, state/) stay where they are.
  ensure_dir "$P" 0755
  mkdir -p "$P.old"
  for e in $PROGRAM_ENTRIES; do
    if [ -e "$P/$e" ] || [ -L "$P/$e" ]; then mv -- "$P/$e" "$P.old/$e"; fi
    if [ -e "$P.new/$e" ]; then mv -- "$P.new/$e" "$P/$e"; fi
  done
  printf '%s\n' "$release_record" >"$P/.release.tmp.$$"
  mv -f -- "$P/.release.tmp.$$" "$P/.release"
  rm -rf -- "$P.old" "$P.new"
  staged=0
  program_changed=1
fi
ensure_dir "$P" 0755

# Launchers: run the agent with this Node.js; relocatable (they find dist/ from their own path).
write_launcher() { # <name> <script in dist>
  local out="$work/$1"
  cat >"$out" <<EOF
#!/bin/sh
# $1 launcher, written by scripts/install.sh: runs the installed agent with the Node.js
# chosen at install time, or the one on PATH if that one is gone.
node='$NODE'
[ -x "\$node" ] || node=node
root=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
exec "\$node" "\$root/dist/$2" "\$@"
EOF
  ensure_dir "$P/bin" 0755
  install_file "$out" "$P/bin/$1" 0755 || true
}
write_launcher codedeploy-agent agent/cli/codedeploy-agent.js
write_launcher codedeploy-local agent/cli/codedeploy-local.js

if [ -n "$bin_dir" ]; then
  for name in codedeploy-agent codedeploy-local; do
    link="$DESTDIR$bin_dir/$name"
    if [ -L "$link" ] && [ "$(readlink -- "$link")" = "$prefix/bin/$name" ]; then continue; fi
    if [ -e "$link" ] && [ ! -L "$link" ]; then
      warn "$bin_dir/$name exists and is not a link; leaving it (run $prefix/bin/$name)"
      continue
    fi
    mkdir -p -- "$DESTDIR$bin_dir"
    ln -sfn -- "$prefix/bin/$name" "$link"
  done
fi

# ---------------------------------------------------------------------------------------------
# Install: config and directories

ensure_dir "$DESTDIR$config_dir" 0755
if [ -e "$DESTDIR$CONFIG_FILE" ] || [ -L "$DESTDIR$CONFIG_FILE" ]; then
  say "keeping the existing $CONFIG_FILE"
else
  render "$rel/conf/codedeployagent.yml" "$work/codedeployagent.yml"
  install_file "$work/codedeployagent.yml" "$DESTDIR$CONFIG_FILE" 0644 || true
  say "wrote $CONFIG_FILE"
fi
read_config_dirs "$P/dist"
# Bundles, hook output and logs can hold secrets: the deployment root and the logs are not
# readable by other users. The pid directory holds the status file `codedeploy-agent status`
# reads without root.
ensure_dir "$DESTDIR$root_dir" 0700
ensure_dir "$DESTDIR$agent_log_dir" 0750
ensure_dir "$DESTDIR$pid_dir" 0755

render "$logrotate_template" "$work/logrotate" "$root_dir"
install_file "$work/logrotate" "$DESTDIR$LOGROTATE_PATH" 0644 || true

# ---------------------------------------------------------------------------------------------
# Install: systemd

if [ "$use_systemd" = 1 ]; then
  unit_changed=0
  render "$unit_template" "$work/unit"
  if install_file "$work/unit" "$DESTDIR$UNIT_PATH" 0644; then unit_changed=1; fi
  if systemd_active; then
    [ "$unit_changed" = 0 ] || systemctl daemon-reload
    systemctl is-enabled --quiet "$SERVICE" 2>/dev/null || systemctl enable --quiet "$SERVICE"
    if [ "$start_service" = 0 ]; then
      say "$SERVICE is enabled, not started (--no-start): systemctl start codedeploy-agent"
    elif [ "$program_changed" = 1 ] || [ "$unit_changed" = 1 ] || [ "$was_active" = 1 ]; then
      say "(re)starting $SERVICE"
      systemctl restart "$SERVICE" || warn "$SERVICE did not start; see: codedeploy-agent doctor; journalctl -u codedeploy-agent"
    else
      systemctl start "$SERVICE" || warn "$SERVICE did not start; see: codedeploy-agent doctor; journalctl -u codedeploy-agent"
    fi
  elif [ -z "$DESTDIR" ]; then
    say "systemd is not running here: start the agent with $prefix/bin/codedeploy-agent start"
  fi
fi

say "done: codedeploy-agent $version in $prefix (config $CONFIG_FILE, deployments $root_dir, logs $agent_log_dir)"
