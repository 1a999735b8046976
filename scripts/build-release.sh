#!/usr/bin/env bash
# build-release.sh - make the release: the tarball scripts/install.sh installs on hosts, the
# self-contained executables (scripts/release/build-executables.mjs: Node.js 26 with the agent
# bundled in, one per arch) and SHA256SUMS over all of them.
#
# The tarball is what `npm pack` makes of a clean build (package.json "files": dist/, conf/,
# README.md), plus what a host install needs and npm pack leaves out:
# - npm-shrinkwrap.json (a copy of package-lock.json, which npm pack never ships), so
#   `npm ci --omit=dev` on the host installs exactly the dependency versions this tree was
#   tested with;
# - systemd/, scripts/install.sh and scripts/logrotate/, so the tarball alone installs a host;
# - prebuilds/: this machine's compiled native modules (better-sqlite3) in prebuild-install's
#   file naming. A host with the same platform, libc, architecture and Node ABI installs them
#   without a compiler or network; any other host downloads or compiles them as npm would.
# dist/ is compiled into a staging directory (never the working tree's dist/, so nothing stale
# is shipped), and the tarball is reproducible: sorted entries, fixed owner and mtime, gzip -n.
set -euo pipefail
umask 022

usage() {
  cat <<'EOF'
Usage: scripts/build-release.sh [--out DIR] [--no-build] [--no-executables] [--no-packages] [--arch ARCH]...

Builds dist/ from the sources (tsc -p tsconfig.build.json) in a staging directory and writes
into DIR (default: the current directory):
  codedeploy-agent-ts-<version>.tgz               the npm-style tarball (needs Node.js and npm on the host)
  codedeploy-agent-<version>-linux-<arch>         self-contained executables (x64 and arm64)
  codedeploy-agent-<version>-linux-<arch>.tar.gz  the host tarball: the executable, config, unit and
                                                  install.sh (installs offline, no Node.js)
  codedeploy-agent_<version>_<arch>.deb, codedeploy-agent-<version>-1.<arch>.rpm
                                                  packages of each executable (.rpm needs rpmbuild)
  SHA256SUMS                                      checksums of the files above
Prints their paths. The executables embed Node.js from the npm registry (cached in .cache/node/).

  --out DIR          Where to write the release
  --no-build         Package the existing dist/ instead of compiling (e.g. right after npm run build)
  --no-executables   Only the tarball (no executables, no packages)
  --no-packages      No .deb or .rpm
  --arch ARCH        Build the executable for ARCH only (x64, arm64; repeatable)
EOF
}

die() {
  printf 'build-release.sh: error: %s\n' "$*" >&2
  exit 1
}

out=$PWD
build=1
executables=1
packages=1
arches=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out) [ "$#" -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    --no-executables) executables=0; shift ;;
    --no-packages) packages=0; shift ;;
    --arch) [ "$#" -ge 2 ] || die "--arch needs x64 or arm64"; arches+=(--arch "$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

root=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p -- "$out"
out=$(cd "$out" && pwd)
[ -f "$root/package-lock.json" ] || die "$root/package-lock.json is missing: run npm install first"

stage=$(mktemp -d "${TMPDIR:-/tmp}/codedeploy-agent-release.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
pkg="$stage/package"
mkdir -p "$pkg"

if [ "$build" = 1 ]; then
  (cd "$root" && npx --no-install tsc -p tsconfig.build.json --outDir "$pkg/dist" && node scripts/copy-console-assets.mjs "$pkg/dist") ||
    die "the TypeScript build failed (see above); no release was made"
else
  [ -f "$root/dist/agent/cli/codedeploy-agent.js" ] || die "no dist/ to package: run npm run build, or drop --no-build"
  cp -R "$root/dist" "$pkg/dist"
fi
cp "$root/package.json" "$pkg/"
cp "$root/package-lock.json" "$pkg/npm-shrinkwrap.json"
for f in README.md LICENSE; do [ ! -f "$root/$f" ] || cp "$root/$f" "$pkg/"; done
cp -R "$root/conf" "$pkg/conf"

# npm pack decides the file list from package.json "files"; scripts are not run (a prepack
# script would rebuild from the working tree).
mkdir -p "$stage/packed" "$stage/final"
tgz=$(cd "$pkg" && npm pack --ignore-scripts --silent --pack-destination "$stage/packed" | tail -n 1)
tar -xzf "$stage/packed/$tgz" -C "$stage/final" --no-same-owner
final="$stage/final/package"

add() { # <path relative to the repository>
  if [ ! -e "$final/$1" ]; then
    mkdir -p "$final/$(dirname -- "$1")"
    cp -R "$root/$1" "$final/$1"
  fi
}
[ -e "$final/npm-shrinkwrap.json" ] || cp "$pkg/npm-shrinkwrap.json" "$final/npm-shrinkwrap.json"
add systemd
add scripts/install.sh
add scripts/logrotate
chmod 0755 "$final/scripts/install.sh"

# Native modules installed by prebuild-install: package this machine's build, if it loads.
libc=$(node -p 'process.report.getReport().header.glibcVersionRuntime ? "" : "musl"')
abi=$(node -p 'process.versions.modules')
for dep in $(node -p 'Object.keys(require(process.argv[1]).dependencies || {}).join(" ")' "$root/package.json"); do
  dir="$root/node_modules/$dep"
  [ -f "$dir/package.json" ] || continue
  grep -q '"install": *"prebuild-install' "$dir/package.json" || continue
  [ -d "$dir/build/Release" ] || continue
  if ! (cd "$root" && node -e 'require(process.argv[1])' "$dep" >/dev/null 2>&1); then
    printf 'build-release.sh: warning: %s does not load with this Node.js; not shipping a prebuild of it\n' "$dep" >&2
    continue
  fi
  name=${dep##*/}
  version=$(node -p 'require(process.argv[1]).version' "$dir/package.json")
  file="$name-v$version-node-v$abi-$(node -p 'process.platform')$libc-$(node -p 'process.arch').tar.gz"
  # Only the addon itself (better-sqlite3 also builds a test_extension.node, a SQLite
  # extension: prebuild-install require()s the last .node of the archive to check it loads).
  binary="build/Release/${name//-/_}.node"
  [ -f "$dir/$binary" ] || { printf 'build-release.sh: warning: %s has no %s; not shipping a prebuild of it\n' "$dep" "$binary" >&2; continue; }
  mkdir -p "$final/prebuilds"
  (cd "$dir" && tar --owner=0 --group=0 --numeric-owner --mtime=@499162500 -cf - "$binary" | gzip -n -9 >"$final/prebuilds/$file")
done

find "$final" -type d -exec chmod 0755 {} +
find "$final" -type f -exec chmod 0644 {} +
chmod 0755 "$final/scripts/install.sh"
result="$out/$tgz"
(cd "$stage/final" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@499162500 -cf - package | gzip -n -9 >"$result.tmp")
mv -f -- "$result.tmp" "$result"
artifacts=("$tgz")

if [ "$executables" = 1 ]; then
  built=$(cd "$root" && node scripts/release/build-executables.mjs --out "$out" "${arches[@]}") ||
    die "building the self-contained executables failed (see above)"
  while IFS= read -r path; do artifacts+=("$(basename -- "$path")"); done <<<"$built"
  # The host tarball per arch: what scripts/install.sh installs with no Node.js, no npm and no
  # network (the executable as bin/codedeploy-agent, plus the config, unit, logrotate policy and
  # install.sh), under one top directory named like the executable.
  while IFS= read -r path; do
    [ -n "$path" ] || continue
    name=$(basename -- "$path")
    host="$stage/host/$name"
    mkdir -p "$host/bin" "$host/scripts"
    cp "$path" "$host/bin/codedeploy-agent"
    cp -R "$root/conf" "$host/conf"
    cp -R "$root/systemd" "$host/systemd"
    cp -R "$root/scripts/logrotate" "$host/scripts/logrotate"
    cp "$root/scripts/install.sh" "$host/scripts/install.sh"
    for f in README.md LICENSE; do [ ! -f "$root/$f" ] || cp "$root/$f" "$host/"; done
    find "$host" -type d -exec chmod 0755 {} +
    find "$host" -type f -exec chmod 0644 {} +
    chmod 0755 "$host/bin/codedeploy-agent" "$host/scripts/install.sh"
    (cd "$stage/host" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@499162500 -cf - "$name" | gzip -n -6 >"$out/$name.tar.gz.tmp")
    mv -f -- "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
    artifacts+=("$name.tar.gz")
  done <<<"$built"
  if [ "$packages" = 1 ]; then
    # The .deb and .rpm around each executable (scripts/packaging/build-packages.sh); rpm only
    # where rpmbuild is installed (Debian package rpm).
    format=all
    command -v rpmbuild >/dev/null 2>&1 || {
      format=deb
      printf 'build-release.sh: rpmbuild not found (apt-get install rpm): building .deb packages only\n' >&2
    }
    while IFS= read -r path; do
      [ -n "$path" ] || continue
      name=$(basename -- "$path")
      arch=${name##*-linux-}
      pkgs=$("$root/scripts/packaging/build-packages.sh" --exe "$path" --arch "$arch" --out "$out" --format "$format") ||
        die "building the $arch packages failed (see above)"
      while IFS= read -r pkg; do artifacts+=("$(basename -- "$pkg")"); done <<<"$pkgs"
    done <<<"$built"
  fi
fi
(cd "$out" && sha256sum -- "${artifacts[@]}" >SHA256SUMS.tmp && mv -f SHA256SUMS.tmp SHA256SUMS)
for a in "${artifacts[@]}"; do printf '%s\n' "$out/$a"; done
printf '%s\n' "$out/SHA256SUMS"
