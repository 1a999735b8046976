#!/usr/bin/env bash
# build-packages.sh - the .deb and .rpm packages of the self-contained agent executable.
#
# Both packages are named codedeploy-agent, like the official ones, and replace them in place:
# - Version: epoch 1 (deb "1:<V>", rpm "Epoch: 1"). Our versions start at 0.x, below the
#   official 1.x; with the epoch, `apt install ./codedeploy-agent_<V>_amd64.deb` or
#   `dnf install ./codedeploy-agent-<V>-1.x86_64.rpm` on a host with the official agent is an
#   ordinary upgrade (its files go, the config conffile stays), and the official repository's
#   next 1.x never silently replaces this agent. The file names carry <V> without the epoch, as
#   dpkg and rpm name their files.
# - Layout: /opt/codedeploy-agent/bin/codedeploy-agent (the executable), bin/codedeploy-local (a
#   link to it: the executable dispatches on its name), /opt/codedeploy-agent/.version (the
#   official "agent_version: <v>" file operators check), the config as a conffile (deb conffiles,
#   rpm %config(noreplace)), the logrotate policy (also a conffile), the systemd unit in
#   /usr/lib/systemd/system (the packaged place; /etc/systemd/system stays the operator's, where
#   scripts/install.sh writes its copy), and /usr/bin links (install.sh's /usr/local/bin ones;
#   a package must not write /usr/local).
# - Maintainer scripts: maint/*.sh behind maint/functions.sh (see there).
# - Reproducible: mtimes clamped to SOURCE_DATE_EPOCH (default: the last commit's time), owner
#   root:root, sorted archives, rpm's build host and time fixed.
set -euo pipefail
umask 022

readonly PROG=build-packages.sh

usage() {
  cat <<'EOF'
Usage: scripts/packaging/build-packages.sh [--exe PATH] --arch x64|arm64 [--version V] [--out DIR]
                                           [--format deb|rpm|all]

Builds OUT/codedeploy-agent_<V>_<amd64|arm64>.deb (dpkg-deb) and
OUT/codedeploy-agent-<V>-1.<x86_64|aarch64>.rpm (rpmbuild) around the self-contained agent
executable, and prints their paths.

  --exe PATH     The executable [default: release/codedeploy-agent-<V>-linux-<arch>]
  --arch ARCH    x64 or arm64 (the executable's architecture)
  --version V    Package version, e.g. 0.1.0 [default: package.json's]
  --out DIR      Where to write the packages [default: release]
  --format F     deb, rpm or all [default: all]
  -h, --help     Show this help

Environment:
  SOURCE_DATE_EPOCH   Timestamp of every file and of the build [default: the last commit's]
EOF
}

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

root=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
readonly root maint="$root/scripts/packaging/maint"

exe='' arch='' version='' out="$root/release" format=all
need_value() { [ "$#" -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --exe) need_value "$@"; exe=$2; shift 2 ;;
    --arch) need_value "$@"; arch=$2; shift 2 ;;
    --version) need_value "$@"; version=$2; shift 2 ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    --format) need_value "$@"; format=$2; shift 2 ;;
    --exe=*) exe=${1#*=}; shift ;;
    --arch=*) arch=${1#*=}; shift ;;
    --version=*) version=${1#*=}; shift ;;
    --out=*) out=${1#*=}; shift ;;
    --format=*) format=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

case "$arch" in
  x64) deb_arch=amd64 rpm_arch=x86_64 elf_machine=62 ;;
  arm64) deb_arch=arm64 rpm_arch=aarch64 elf_machine=183 ;;
  '') die "--arch is required: x64 or arm64" ;;
  *) die "--arch must be x64 or arm64, not '$arch'" ;;
esac
case "$format" in deb | rpm | all) ;; *) die "--format must be deb, rpm or all, not '$format'" ;; esac
if [ -z "$version" ]; then
  version=$(sed -n -E 's/^  "version": "([^"]+)",?$/\1/p' "$root/package.json" | head -n 1)
  [ -n "$version" ] || die "no --version given and none found in $root/package.json"
fi
# Both formats' rules at once: rpm forbids '-' in Version, dpkg wants a leading digit.
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "--version '$version' must start with a digit and hold only letters, digits and . + ~"
[ -n "$exe" ] || exe="$root/release/codedeploy-agent-$version-linux-$arch"
[ -f "$exe" ] || die "--exe $exe does not exist (scripts/build-release.sh or the SEA build makes it)"
[ -x "$exe" ] || die "--exe $exe is not executable"
# An ELF executable must be of --arch (a script stand-in, as the tests use, is not checked).
if [ "$(head -c 4 -- "$exe" | od -An -c | tr -d ' ')" = '177ELF' ]; then
  machine=$(od -An -tu2 -j18 -N2 -- "$exe" | tr -d ' ')
  [ "$machine" = "$elf_machine" ] || die "--exe $exe is an ELF executable for machine $machine, not $arch"
fi
if [ "$format" != rpm ]; then command -v dpkg-deb >/dev/null || die "dpkg-deb is not installed (apt-get install dpkg)"; fi
if [ "$format" != deb ]; then command -v rpmbuild >/dev/null || die "rpmbuild is not installed (apt-get install rpm)"; fi

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)
  [ -n "$SOURCE_DATE_EPOCH" ] || SOURCE_DATE_EPOCH=$(date +%s)
fi
export SOURCE_DATE_EPOCH
mkdir -p -- "$out"
out=$(cd "$out" && pwd)

stage=$(mktemp -d "${TMPDIR:-/tmp}/codedeploy-agent-packages.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT

# ---------------------------------------------------------------------------------------------
# The installed tree, the same for both formats but for .version.

readonly PREFIX=/opt/codedeploy-agent
make_tree() { # <dir> <package type for .version>
  local t=$1
  install -d -m 0755 "$t$PREFIX/bin" "$t/etc/codedeploy-agent/conf" "$t/etc/logrotate.d" \
    "$t/usr/lib/systemd/system" "$t/usr/bin"
  install -m 0755 -- "$exe" "$t$PREFIX/bin/codedeploy-agent"
  ln -s codedeploy-agent "$t$PREFIX/bin/codedeploy-local"
  ln -s "$PREFIX/bin/codedeploy-agent" "$t/usr/bin/codedeploy-agent"
  ln -s "$PREFIX/bin/codedeploy-local" "$t/usr/bin/codedeploy-local"
  # The official file's format; the value follows its OFFICIAL_<version>_<type> habit.
  printf 'agent_version: TS_%s_%s\n' "$version" "$2" >"$t$PREFIX/.version"
  chmod 0644 "$t$PREFIX/.version"
  # The unit's Documentation= points here.
  install -m 0644 -- "$root/README.md" "$t$PREFIX/README.md"
  install -m 0644 -- "$root/conf/codedeployagent.yml" "$t/etc/codedeploy-agent/conf/codedeployagent.yml"
  install -m 0644 -- "$root/scripts/logrotate/codedeploy-agent" "$t/etc/logrotate.d/codedeploy-agent"
  install -m 0644 -- "$root/systemd/codedeploy-agent.service" "$t/usr/lib/systemd/system/codedeploy-agent.service"
}

clamp_mtimes() { # <dir>
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# A maintainer script: the shared functions, then the body. <root expression> sets CDA_ROOT.
maint_script() { # <body file> <CDA_ROOT assignment>
  printf '#!/bin/sh\n# Generated by scripts/packaging/build-packages.sh from maint/functions.sh and maint/%s.\nset -e\n%s\n' \
    "$(basename -- "$1")" "$2"
  cat -- "$maint/functions.sh" "$1"
}

readonly SUMMARY='AWS CodeDeploy host agent (TypeScript, self-contained executable)'
readonly DESCRIPTION='The CodeDeploy host agent, a drop-in replacement for the official agent: same
configuration, deployment root, logs and appspec behaviour, in one executable (Node.js
inside). It runs as the systemd service codedeploy-agent.'

# ---------------------------------------------------------------------------------------------
# .deb

build_deb() {
  local d="$stage/deb" file="$out/codedeploy-agent_${version}_${deb_arch}.deb" s
  make_tree "$d" deb
  install -d -m 0755 "$d/DEBIAN"
  printf '%s\n' /etc/codedeploy-agent/conf/codedeployagent.yml /etc/logrotate.d/codedeploy-agent >"$d/DEBIAN/conffiles"
  for s in postinst prerm postrm; do
    # shellcheck disable=SC2016 # expanded by the maintainer script, not here
    maint_script "$maint/deb-$s.sh" 'CDA_ROOT=${DPKG_ROOT:-}' >"$d/DEBIAN/$s"
    chmod 0755 "$d/DEBIAN/$s"
  done
  (cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$d/DEBIAN/md5sums"
  cat >"$d/DEBIAN/control" <<EOF
Package: codedeploy-agent
Version: 1:$version
Architecture: $deb_arch
Maintainer: codedeploy-agent-ts maintainers <root@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$d" | cut -f 1)
Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1 | libgcc1, libatomic1
Section: admin
Priority: optional
Description: $SUMMARY
$(printf '%s\n' "$DESCRIPTION" | sed -e 's/^/ /')
EOF
  chmod 0644 "$d/DEBIAN/control" "$d/DEBIAN/conffiles" "$d/DEBIAN/md5sums"
  clamp_mtimes "$d"
  dpkg-deb --root-owner-group -Zxz --build "$d" "$file" >/dev/null
  printf '%s\n' "$file"
}

# ---------------------------------------------------------------------------------------------
# .rpm

# A scriptlet body for the spec: percent signs doubled so rpm does not expand them.
spec_scriptlet() { # <body file>
  maint_script "$1" 'CDA_ROOT=' | sed -e '1d' -e 's/%/%%/g'
}

build_rpm() {
  local top="$stage/rpm" tree="$stage/rpm-tree" spec="$stage/codedeploy-agent.spec" built
  make_tree "$tree" rpm
  clamp_mtimes "$tree"
  mkdir -p "$top"
  cat >"$spec" <<EOF
Name: codedeploy-agent
Epoch: 1
Version: $version
Release: 1
Summary: $SUMMARY
License: Apache-2.0
# The executable carries its own Node.js; what it links is listed by hand, nothing generated.
AutoReqProv: no
Requires: glibc >= 2.28, libstdc++, libgcc, libatomic

%description
$DESCRIPTION

%install
cp -a "$tree/." "%{buildroot}/"

%files
%defattr(-,root,root,-)
%dir %attr(0755,root,root) $PREFIX
%dir %attr(0755,root,root) $PREFIX/bin
%attr(0755,root,root) $PREFIX/bin/codedeploy-agent
$PREFIX/bin/codedeploy-local
%attr(0644,root,root) $PREFIX/.version
%doc %attr(0644,root,root) $PREFIX/README.md
%dir %attr(0755,root,root) /etc/codedeploy-agent
%dir %attr(0755,root,root) /etc/codedeploy-agent/conf
%config(noreplace) %attr(0644,root,root) /etc/codedeploy-agent/conf/codedeployagent.yml
%config(noreplace) %attr(0644,root,root) /etc/logrotate.d/codedeploy-agent
%attr(0644,root,root) /usr/lib/systemd/system/codedeploy-agent.service
/usr/bin/codedeploy-agent
/usr/bin/codedeploy-local

%post
$(spec_scriptlet "$maint/rpm-post.sh")

%preun
$(spec_scriptlet "$maint/rpm-preun.sh")

%postun
$(spec_scriptlet "$maint/rpm-postun.sh")
EOF
  # No stripping, debuginfo or build-id links: the executable is Node.js with the agent appended,
  # and strip would cut the agent off. Fixed build host and time, mtimes kept: reproducible.
  rpmbuild -bb --quiet --target "$rpm_arch-linux" \
    --define "_topdir $top" \
    --define '__os_install_post %{nil}' \
    --define 'debug_package %{nil}' \
    --define '_build_id_links none' \
    --define '_buildhost reproducible' \
    --define 'use_source_date_epoch_as_buildtime 1' \
    --define 'clamp_mtime_to_source_date_epoch 1' \
    --define '_binary_payload w9.gzdio' \
    "$spec" >"$stage/rpmbuild.log" 2>&1 || {
    cat "$stage/rpmbuild.log" >&2
    die "rpmbuild failed (see above)"
  }
  built="$top/RPMS/$rpm_arch/codedeploy-agent-$version-1.$rpm_arch.rpm"
  [ -f "$built" ] || die "rpmbuild made no $built"
  mv -f -- "$built" "$out/"
  printf '%s\n' "$out/codedeploy-agent-$version-1.$rpm_arch.rpm"
}

if [ "$format" != rpm ]; then build_deb; fi
if [ "$format" != deb ]; then build_rpm; fi
