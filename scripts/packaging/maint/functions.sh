# shellcheck shell=sh
# functions.sh - shared by the .deb maintainer scripts and the .rpm scriptlets. build-packages.sh
# pastes it at the top of each of them (a package's scripts cannot source a file of their own:
# on purge it is gone). POSIX sh only: dash runs the .deb scripts.
#
# CDA_ROOT is the root the package is installed into: $DPKG_ROOT for dpkg (set when dpkg runs
# the scripts outside a chroot, e.g. `dpkg --root D --force-script-chrootless` while building an
# image), empty for rpm (rpm --root chroots its scriptlets). Under another root, systemctl is
# never called: the host's systemd is not that root's.

CDA_SERVICE=codedeploy-agent.service
CDA_PREFIX=/opt/codedeploy-agent
CDA_CONFIG=/etc/codedeploy-agent/conf/codedeployagent.yml
# Where postinst records the directories it made (from the config), for purge: dpkg has removed
# the config file (a conffile) by the time postrm purge runs.
CDA_DIRS_RECORD=$CDA_PREFIX/state/package-dirs

cda_warn() { printf 'codedeploy-agent: warning: %s\n' "$*" >&2; }

cda_systemd_running() {
  [ -z "$CDA_ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

# The value of the last ":key: value" line of <file>, unquoted, without trailing slashes
# (the same reading as scripts/install.sh's fallback).
cda_config_key() { # <file> <key>
  [ -f "$1" ] || return 0
  sed -n -E "s/^:?$2:[[:space:]]*['\"]?([^'\"#]*[^'\"#[:space:]])['\"]?[[:space:]]*(#.*)?\$/\1/p" "$1" |
    tail -n 1 | sed -e 's|//*$||'
}

# True for a path these scripts may create and, on purge, remove: absolute, of plain
# characters, no . or .. parts, and not / or a system directory (scripts/install.sh's rules).
cda_safe_dir() { # <path>
  case "$1" in /*) ;; *) return 1 ;; esac
  case "$1" in *[!A-Za-z0-9._/@+-]*) return 1 ;; esac
  case "/$1/" in */./* | */../*) return 1 ;; esac
  cda_depth=$(printf '%s' "$1" | tr -cd / | wc -c)
  [ "$cda_depth" -ge 2 ] || return 1
  case "$1" in
    /etc/*codedeploy*) ;;
    /usr/* | /etc/* | /var/* | /home/* | /boot/* | /proc/* | /sys/* | /dev/* | /run/* | /lib*/* | /bin/* | /sbin/*)
      [ "$cda_depth" -ge 3 ] || return 1 ;;
  esac
  return 0
}

# Sets cda_root_dir, cda_log_dir, cda_pid_dir from the config (defaults where it says nothing
# or names an unsafe directory).
cda_read_dirs() {
  cda_root_dir=$(cda_config_key "$CDA_ROOT$CDA_CONFIG" root_dir)
  cda_log_dir=$(cda_config_key "$CDA_ROOT$CDA_CONFIG" log_dir)
  cda_pid_dir=$(cda_config_key "$CDA_ROOT$CDA_CONFIG" pid_dir)
  cda_safe_dir "$cda_root_dir" || cda_root_dir=$CDA_PREFIX/deployment-root
  cda_safe_dir "$cda_log_dir" || cda_log_dir=/var/log/aws/codedeploy-agent
  cda_safe_dir "$cda_pid_dir" || cda_pid_dir=$CDA_PREFIX/state/.pid
}

# Create a directory (and parents) and set its mode, as scripts/install.sh does.
cda_ensure_dir() { # <path> <mode>
  mkdir -p "$CDA_ROOT$1"
  chmod "$2" "$CDA_ROOT$1"
}

# The agent's directories: bundles, hook output and logs can hold secrets, so the deployment
# root and the logs are not readable by other users; the pid directory holds the status file
# `codedeploy-agent status` reads without root.
cda_make_dirs() {
  cda_read_dirs
  cda_ensure_dir "$cda_root_dir" 0700
  cda_ensure_dir "$cda_log_dir" 0750
  cda_ensure_dir "$cda_pid_dir" 0755
  cda_record_dirs
}

cda_record_dirs() {
  mkdir -p "$CDA_ROOT$CDA_PREFIX/state"
  printf '%s\n' "$cda_root_dir" "$cda_log_dir" "$cda_pid_dir" >"$CDA_ROOT$CDA_DIRS_RECORD"
}

cda_remove_dir() { # <path>: rm -rf, only of a safe directory
  if cda_safe_dir "$1"; then
    rm -rf "$CDA_ROOT$1"
  else
    cda_warn "not removing $1: it is a system directory; remove the agent's files there yourself"
  fi
}

cda_rmdir_if_empty() { # <path>
  if [ -d "$CDA_ROOT$1" ]; then rmdir "$CDA_ROOT$1" 2>/dev/null || true; fi
}

# Purge: the deployment history, the config directory, the logs and the agent's state, from
# what postinst recorded (else the defaults).
cda_purge() {
  cda_read_dirs
  if [ -f "$CDA_ROOT$CDA_DIRS_RECORD" ]; then
    { IFS= read -r cda_root_dir || true; IFS= read -r cda_log_dir || true; IFS= read -r cda_pid_dir || true; } <"$CDA_ROOT$CDA_DIRS_RECORD"
  fi
  for cda_dir in "$cda_root_dir" "$cda_log_dir" "$cda_pid_dir" /etc/codedeploy-agent/conf "$CDA_PREFIX/state"; do
    [ -z "$cda_dir" ] || cda_remove_dir "$cda_dir"
  done
  cda_rmdir_if_empty /etc/codedeploy-agent
  cda_rmdir_if_empty /var/log/aws
  cda_rmdir_if_empty "$CDA_PREFIX"
}

# After install or upgrade: (re)start the agent so the new executable runs. Enabled every time,
# as scripts/install.sh does. A failed start does not fail the package operation (a host without
# credentials yet, e.g. on-premises before registration): it says where to look.
cda_enable_and_restart() {
  cda_systemd_running || return 0
  systemctl daemon-reload || true
  systemctl enable --quiet "$CDA_SERVICE" || cda_warn "systemctl enable $CDA_SERVICE failed"
  systemctl restart "$CDA_SERVICE" ||
    cda_warn "$CDA_SERVICE did not start; see: codedeploy-agent doctor; journalctl -u codedeploy-agent"
  if [ -f "/etc/systemd/system/$CDA_SERVICE" ] && [ ! -L "/etc/systemd/system/$CDA_SERVICE" ]; then
    cda_warn "/etc/systemd/system/$CDA_SERVICE (e.g. from scripts/install.sh) overrides the packaged unit; remove it unless you meant it"
  fi
}

# Before removal: stop (waits for running deployments, see the unit's TimeoutStopSec=) and
# disable.
cda_stop_and_disable() {
  cda_systemd_running || return 0
  systemctl disable --now --quiet "$CDA_SERVICE" || cda_warn "systemctl disable --now $CDA_SERVICE failed"
}

cda_daemon_reload() {
  if cda_systemd_running; then systemctl daemon-reload || true; fi
}
