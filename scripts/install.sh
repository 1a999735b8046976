#!/usr/bin/env bash
# install.sh - install, upgrade or remove the CodeDeploy agent on a Linux host.
#
# Installs a release into <prefix> (/opt/codedeploy-agent), writes the default config only when
# there is none, creates the directories with safe modes, and installs and enables the systemd unit
# when systemd runs this host. Two kinds of release, tarball or unpacked directory:
# - the host tarball codedeploy-agent-<v>-linux-<arch>.tar.gz (scripts/build-release.sh): the
#   self-contained executable. Needs no Node.js, no npm and no network;
# - the npm-style tarball codedeploy-agent-ts-<v>.tgz: dist/ plus its production dependencies,
#   installed with the host's Node.js and npm.
# --migrate takes over from the official (Ruby) agent: stops and disables it, keeps its config,
# deployment root and logs, removes its program (through dpkg/rpm when they installed it), installs
# this agent and starts it.
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
# The same for the executable release (bin/ holds the executable and the codedeploy-local link).
readonly EXE_ENTRIES="bin conf README.md LICENSE .version"
# The files of a release the installer reads (the rest of a source tree is ignored).
readonly RELEASE_ENTRIES="$PROGRAM_ENTRIES systemd scripts/install.sh scripts/logrotate prebuilds"
readonly EXE_RELEASE_ENTRIES="bin/codedeploy-agent conf README.md LICENSE systemd scripts/install.sh scripts/logrotate"

usage() {
  cat <<'EOF'
Usage: install.sh [--from <release.tar.gz | release.tgz | release-dir>] [--migrate] [options]
       install.sh --uninstall [--purge] [options]

Installs the CodeDeploy agent (TypeScript) into <prefix>: from the host tarball
codedeploy-agent-<version>-linux-<arch>.tar.gz (the self-contained executable; no Node.js, npm or
network needed), or from the npm-style codedeploy-agent-ts-<version>.tgz (Node.js and npm needed),

writes <config-dir>/codedeployagent.yml if it does not exist, creates the deployment root
(0700) and log directory (0750), installs /etc/logrotate.d/codedeploy-agent and the systemd
unit, and enables and (re)starts the service when systemd is running. Running it again with
the same release changes nothing; a newer release is installed in place (config and
deployment history are kept).

Options:
  --from PATH          Release tarball (scripts/build-release.sh, npm pack) or directory
                       [default: the release this script belongs to]
  --migrate            Take over from the official (Ruby) CodeDeploy agent in <prefix>: stop
                       and disable it (waits for a running lifecycle event), keep its config,
                       deployment root, history and logs, remove its program (dpkg/rpm when they
                       installed it, else moved to <prefix>.official-<date>), install this one
  --migrate-wait SECS  How long to wait for the official agent to exit [default: 7200]
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
  NPM_CONFIG_OFFLINE   true: install dependencies from the npm cache only (npm-style release)
  CODEDEPLOY_INSTALL_TEST
                       1: for this project's tests only: act as if systemd ran the host, even
                       with DESTDIR (the tests put a recording systemctl first on PATH), and
                       accept a shell-script stand-in for the executable
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
migrate=0
migrate_wait=7200

need_value() {
  [ "$#" -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    --from | --prefix | --config-dir | --log-dir | --bin-dir | --node | --migrate-wait)
      need_value "$@"
      opt=$1 value=$2
      shift 2
      ;;
    --from=* | --prefix=* | --config-dir=* | --log-dir=* | --bin-dir=* | --node=* | --migrate-wait=*)
      opt=${1%%=*} value=${1#*=}
      shift
      ;;
    --no-systemd) use_systemd=0; shift; continue ;;
    --no-start) start_service=0; shift; continue ;;
    --force) force=1; shift; continue ;;
    --uninstall) uninstall=1; shift; continue ;;
    --purge) purge=1; shift; continue ;;
    --migrate) migrate=1; shift; continue ;;
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
    --migrate-wait) migrate_wait=$value ;;
  esac
done
[ "$purge" = 0 ] || [ "$uninstall" = 1 ] || die "--purge only goes with --uninstall"
[ "$migrate" = 0 ] || [ "$uninstall" = 0 ] || die "--migrate does not go with --uninstall"
case "$migrate_wait" in '' | *[!0-9]*) die "--migrate-wait must be a number of seconds, not '$migrate_wait'" ;; esac

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
  [ "$use_systemd" = 1 ] || return 1
  # Tests only (see --help): a recording systemctl stands in for systemd.
  [ "${CODEDEPLOY_INSTALL_TEST:-0}" != 1 ] || return 0
  [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
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
  for e in $PROGRAM_ENTRIES bin .release .version state; do remove_tree "$prefix/$e"; done
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
  if [ -x "$script_dir/../bin/codedeploy-agent" ] && [ -f "$script_dir/../conf/codedeployagent.yml" ]; then
    from=$(cd "$script_dir/.." && pwd)
  elif [ -f "$script_dir/../package.json" ] && [ -f "$script_dir/../dist/agent/cli/codedeploy-agent.js" ]; then
    from=$(cd "$script_dir/.." && pwd)
  else
    die "no release next to this script; give one with --from <release.tar.gz | release.tgz | dir> (scripts/build-release.sh makes them)"
  fi
fi
[ -e "$from" ] || die "--from $from does not exist"

official=0
if [ -d "$P/lib/instance_agent" ] || [ -f "$P/bin/install" ]; then official=1; fi
if [ "$official" = 1 ] && [ "$migrate" = 0 ]; then
  die "the official (Ruby) CodeDeploy agent is installed in $prefix. Run this again with --migrate to take over from it (it is stopped and disabled; its config, deployment root, history and logs are kept; this agent reads the same deployment history), or remove its package first (sudo dnf remove codedeploy-agent, or sudo dpkg --remove codedeploy-agent)."
fi
[ "$migrate" = 0 ] || [ "$official" = 1 ] || say "--migrate: no official agent in $prefix; installing as usual"
if [ "$official" = 0 ] && [ -f "$P/.version" ] && grep -Eq 'TS_.*_(deb|rpm)' "$P/.version"; then
  die "$prefix was installed by the codedeploy-agent package ($(cat "$P/.version")); upgrade it with the package manager (sudo apt install ./codedeploy-agent_<version>_<arch>.deb, or sudo dnf install ./codedeploy-agent-<version>-1.<arch>.rpm), not with install.sh"
fi

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
    die "--from $from is neither a release directory nor a readable .tar.gz/.tgz/.tar"
  src="$work/unpacked"
  if [ -d "$src/package" ]; then
    src="$src/package" # npm pack puts everything under package/
  else
    # The host tarball has one top directory, codedeploy-agent-<version>-linux-<arch>/.
    set -- "$src"/*
    if [ "$#" = 1 ] && [ -d "$1" ]; then src=$1; fi
  fi
fi
if [ -f "$src/bin/codedeploy-agent" ] && [ ! -e "$src/dist" ]; then
  kind=exe
  entries=$EXE_RELEASE_ENTRIES
elif [ -f "$src/package.json" ]; then
  kind=npm
  entries=$RELEASE_ENTRIES
  [ -f "$src/dist/agent/cli/codedeploy-agent.js" ] || die "$from has no dist/agent/cli/codedeploy-agent.js: build it first (npm run build, or scripts/build-release.sh)"
else
  die "$from is not an agent release: it has neither bin/codedeploy-agent (the host tarball) nor package.json (the npm-style tarball)"
fi

for e in $entries; do
  if [ -e "$src/$e" ]; then
    mkdir -p "$rel/$(dirname -- "$e")"
    cp -R -- "$src/$e" "$rel/$e"
  fi
done
# Modes as a package manager would set them, whatever the tarball or checkout carried.
find "$rel" -type d -exec chmod 0755 {} +
find "$rel" -type f -exec chmod 0644 {} +

# The ELF machine of a file (62 x86-64, 183 aarch64), empty when it is not an ELF executable.
elf_machine() {
  [ "$(head -c 4 -- "$1" | od -An -c | tr -d ' \n')" = '177ELF' ] || return 0
  od -An -tu2 -j18 -N2 -- "$1" | tr -d ' \n'
}

if [ "$kind" = exe ]; then
  exe="$rel/bin/codedeploy-agent"
  chmod 0755 "$exe"
  host_arch=$(uname -m)
  case "$host_arch" in
    x86_64 | amd64) want=62 ;;
    aarch64 | arm64) want=183 ;;
    *) die "this host is $host_arch: the agent is built for x86_64 and aarch64 only" ;;
  esac
  got=$(elf_machine "$exe")
  case "$got" in
    '') [ "${CODEDEPLOY_INSTALL_TEST:-0}" = 1 ] || die "$from: bin/codedeploy-agent is not a Linux executable" ;;
    "$want") ;;
    62) die "$from is the x64 (x86_64) release, but this host is $host_arch: use codedeploy-agent-<version>-linux-arm64.tar.gz" ;;
    183) die "$from is the arm64 (aarch64) release, but this host is $host_arch: use codedeploy-agent-<version>-linux-x64.tar.gz" ;;
    *) die "$from: bin/codedeploy-agent is for another machine (ELF machine $got), not this $host_arch host" ;;
  esac
  # The smoke run, before anything is installed: the executable starts on this host.
  version=$("$exe" --version 2>&1) || die "the release's executable does not run on this host: $version"
  case "$version" in *[!0-9A-Za-z.+-]* | '') die "the release's executable printed '$version' for --version, not a version" ;; esac
  say "release: the self-contained executable, codedeploy-agent $version ($host_arch); no Node.js or npm needed"
  fingerprint=$(cd "$rel" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d ' ' -f 1)
  release_record=$(printf 'version: %s\nfingerprint: %s\nkind: executable\n' "$version" "$fingerprint")
  owned=$EXE_ENTRIES
  other=$PROGRAM_ENTRIES
else
  find_node
  version=$("$NODE" -p 'const p = require(process.argv[1]); if (p.name !== "codedeploy-agent-ts") throw new Error("package " + p.name); p.version' "$rel/package.json" 2>/dev/null) ||
    die "$from/package.json is not the codedeploy-agent-ts package"
  abi=$("$NODE" -p '[process.versions.modules, process.platform, process.arch].join("-")')
  fingerprint=$({
    (cd "$rel" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    printf 'node-abi %s\n' "$abi"
  } | sha256sum | cut -d ' ' -f 1)
  release_record=$(printf 'version: %s\nfingerprint: %s\nnode_abi: %s\n' "$version" "$fingerprint" "$abi")
  owned="$PROGRAM_ENTRIES .version"
  other="bin"
fi

template() { # <path in a release>: from the release, else next to this script
  if [ -f "$rel/$1" ]; then printf '%s' "$rel/$1"; elif [ -f "$script_dir/../$1" ]; then printf '%s' "$script_dir/../$1"; else die "$1 is missing from the release and from $script_dir/.."; fi
}
unit_template=$(template systemd/codedeploy-agent.service)
logrotate_template=$(template scripts/logrotate/codedeploy-agent)
[ -f "$rel/conf/codedeployagent.yml" ] || die "$from has no conf/codedeployagent.yml"

# ---------------------------------------------------------------------------------------------
# Migration from the official agent (--migrate)

official_version() { sed -n 's/^agent_version: *//p' "$P/.version" 2>/dev/null | head -n 1; }

# The official agent's processes (process titles "codedeploy-agent: master ..." and
# "codedeploy-agent: InstanceAgent::..."), when this host runs them.
official_running() {
  [ -z "$DESTDIR" ] && command -v pgrep >/dev/null 2>&1 && pgrep -f '^codedeploy-agent: ' >/dev/null 2>&1
}

migrate_official() {
  local ov backup keep f waited=0 rootkeep=''
  ov=$(official_version)
  say "migrating from the official CodeDeploy agent ${ov:-(version unknown)} in $prefix"
  read_config_dirs /nonexistent # the official config, read without Node.js
  if systemd_active; then
    say "stopping the official agent: systemctl stop codedeploy-agent (waits for a running lifecycle event)"
    systemctl stop codedeploy-agent || die "systemctl stop codedeploy-agent failed; nothing was changed (see: systemctl status codedeploy-agent)"
    say "disabling the official agent: systemctl disable codedeploy-agent"
    systemctl disable codedeploy-agent || warn "systemctl disable codedeploy-agent failed; continuing (this install enables its own unit of the same name)"
  elif [ -z "$DESTDIR" ] && [ -x /etc/init.d/codedeploy-agent ]; then
    say "stopping the official agent: /etc/init.d/codedeploy-agent stop"
    /etc/init.d/codedeploy-agent stop || warn "/etc/init.d/codedeploy-agent stop failed"
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d -f codedeploy-agent remove >/dev/null || true
    elif command -v chkconfig >/dev/null 2>&1; then chkconfig codedeploy-agent off || true; fi
  fi
  while official_running; do
    if [ "$waited" -ge "$migrate_wait" ]; then
      die "the official agent is still running after ${migrate_wait} s (a lifecycle event may be running). It was asked to stop and disabled; nothing else was changed. Run this again when it has exited (--migrate-wait SECS waits longer), or undo with: systemctl enable --now codedeploy-agent"
    fi
    [ $((waited % 30)) != 0 ] || say "waiting for the official agent to exit (${waited} s of ${migrate_wait} s)"
    sleep 1
    waited=$((waited + 1))
  done

  backup="$prefix.official-$(date +%Y%m%d%H%M%S)"
  keep="$work/keep"
  mkdir -p "$keep"
  for f in codedeployagent.yml codedeploy.onpremises.yml; do
    if [ -f "$DESTDIR$config_dir/$f" ]; then cp -p -- "$DESTDIR$config_dir/$f" "$keep/$f"; fi
  done
  # The deployment root (history, the last revision's scripts for the next ApplicationStop) must
  # survive the official package's removal scripts: it is moved out of their reach meanwhile.
  if [ -d "$DESTDIR$root_dir" ]; then
    rootkeep="$DESTDIR$root_dir.migrating.$$"
    mv -- "$DESTDIR$root_dir" "$rootkeep"
  fi
  local removed=''
  if [ -z "$DESTDIR" ] && command -v dpkg-query >/dev/null 2>&1 && dpkg-query -W -f='${Status}' codedeploy-agent 2>/dev/null | grep -q 'install ok installed'; then
    say "removing the official package: dpkg --remove codedeploy-agent (config kept)"
    dpkg --remove codedeploy-agent || warn "dpkg --remove codedeploy-agent failed; moving its files aside instead"
    removed=dpkg
  elif [ -z "$DESTDIR" ] && command -v rpm >/dev/null 2>&1 && rpm -q codedeploy-agent >/dev/null 2>&1; then
    say "removing the official package: rpm -e codedeploy-agent (config kept)"
    rpm -e --nodeps codedeploy-agent || warn "rpm -e codedeploy-agent failed; moving its files aside instead"
    removed=rpm
  fi
  # What is left of the official program (everything when no package manager installed it) goes
  # to a dated directory beside the prefix; nothing of it is deleted.
  if [ -d "$P" ]; then
    local e name moved=0
    for e in "$P"/* "$P"/.[!.]*; do
      [ -e "$e" ] || [ -L "$e" ] || continue
      name=$(basename -- "$e")
      # Never the deployment history, wherever the config says it is.
      [ "$name" != deployment-root ] || continue
      [ -z "$rootkeep" ] || [ "$e" != "$rootkeep" ] || continue
      mkdir -p "$DESTDIR$backup"
      mv -- "$e" "$DESTDIR$backup/$name"
      moved=1
    done
    [ "$moved" = 0 ] || say "moved the official agent's program files to $backup (remove it when you no longer need it)"
  fi
  for f in /etc/init.d/codedeploy-agent /etc/systemd/system/codedeploy-agent.service /usr/lib/systemd/system/codedeploy-agent.service /lib/systemd/system/codedeploy-agent.service; do
    if [ -f "$DESTDIR$f" ] && ! grep -q 'TypeScript' "$DESTDIR$f" 2>/dev/null; then
      mkdir -p "$DESTDIR$backup/service"
      mv -- "$DESTDIR$f" "$DESTDIR$backup/service/$(basename -- "$f")"
      say "moved the official $f to $backup/service/"
    fi
  done
  if systemd_active; then systemctl daemon-reload || true; fi
  if [ -n "$rootkeep" ]; then
    mkdir -p -- "$(dirname -- "$DESTDIR$root_dir")"
    if [ -e "$DESTDIR$root_dir" ]; then
      mv -- "$DESTDIR$root_dir" "$DESTDIR$backup.root-left-by-package" 2>/dev/null || true
    fi
    mv -- "$rootkeep" "$DESTDIR$root_dir"
  fi
  mkdir -p "$DESTDIR$config_dir"
  for f in codedeployagent.yml codedeploy.onpremises.yml; do
    if [ -f "$keep/$f" ] && ! cmp -s -- "$keep/$f" "$DESTDIR$config_dir/$f"; then
      cp -p -- "$keep/$f" "$DESTDIR$config_dir/$f"
      say "restored $config_dir/$f (the official package's removal had changed it)"
    fi
  done
  say "kept: $CONFIG_FILE, $config_dir/codedeploy.onpremises.yml (if any), the deployment root $root_dir with its history, and the logs in $agent_log_dir${removed:+; the official package was removed with $removed}"
}

# ---------------------------------------------------------------------------------------------
# Install: program files

program_changed=0
was_active=0
if [ "$force" = 0 ] && [ "$official" = 0 ] && [ -f "$P/.release" ] && [ "$(cat "$P/.release")" = "$release_record" ] &&
  { { [ "$kind" = exe ] && [ -x "$P/bin/codedeploy-agent" ]; } || { [ "$kind" = npm ] && [ -d "$P/node_modules" ] && [ -d "$P/dist" ]; }; }; then
  say "codedeploy-agent $version is already installed in $prefix; program files unchanged"
else
  say "installing codedeploy-agent $version into $prefix"
  rm -rf -- "$P.new" "$P.old"
  staged=1
  mkdir -p "$P.new"
  if [ "$kind" = exe ]; then
    mkdir -p "$P.new/bin"
    cp -- "$rel/bin/codedeploy-agent" "$P.new/bin/codedeploy-agent"
    chmod 0755 "$P.new/bin/codedeploy-agent"
    ln -s codedeploy-agent "$P.new/bin/codedeploy-local"
    for e in conf README.md LICENSE; do
      if [ -e "$rel/$e" ]; then cp -R -- "$rel/$e" "$P.new/$e"; fi
    done
    # The official file operators check; the suffix says how it was installed.
    printf 'agent_version: TS_%s_tarball\n' "$version" >"$P.new/.version"
    smoke=$("$P.new/bin/codedeploy-agent" --version 2>&1) || die "the staged agent does not run: $smoke"
  else
    find_npm
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
    printf 'agent_version: TS_%s_npm\n' "$version" >"$P.new/.version"
    smoke=$("$NODE" "$P.new/dist/agent/cli/codedeploy-agent.js" version 2>&1) || die "the staged agent does not run: $smoke"
  fi

  if [ "$official" = 1 ]; then
    migrate_official
  elif systemd_active && systemctl is-active --quiet "$SERVICE"; then
    say "stopping $SERVICE for the upgrade (waits for running deployments)"
    systemctl stop "$SERVICE"
    was_active=1
  fi
  # The swap: per entry, the old one out and the new one in right after. Entries the installer
  # does not own (deployment-root/, state/) stay where they are; the other kind of release's
  # entries (npm-style <-> executable) go.
  ensure_dir "$P" 0755
  mkdir -p "$P.old"
  for e in $other; do
    if [ -e "$P/$e" ] || [ -L "$P/$e" ]; then mv -- "$P/$e" "$P.old/$e"; fi
  done
  for e in $owned; do
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

# Launchers (npm-style release): run the agent with this Node.js and the agent's V8 flags
# (package.json config.agentNodeFlags, as the executable has them built in); relocatable.
write_launcher() { # <name> <script in dist>
  local out="$work/$1" flags
  flags=$("$NODE" -p 'const f = require(process.argv[1]).config?.agentNodeFlags ?? ""; /^[A-Za-z0-9=. -]*$/.test(f) ? f : ""' "$P/package.json" 2>/dev/null || true)
  cat >"$out" <<EOF
#!/bin/sh
# $1 launcher, written by scripts/install.sh: runs the installed agent with the Node.js
# chosen at install time, or the one on PATH if that one is gone.
node='$NODE'
[ -x "\$node" ] || node=node
root=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
exec "\$node" $flags "\$root/dist/$2" "\$@"
EOF
  ensure_dir "$P/bin" 0755
  install_file "$out" "$P/bin/$1" 0755 || true
}
if [ "$kind" = npm ]; then
  write_launcher codedeploy-agent agent/cli/codedeploy-agent.js
  write_launcher codedeploy-local agent/cli/codedeploy-local.js
fi

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
