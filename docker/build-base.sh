#!/usr/bin/env bash
# Builds the local base images the project's Dockerfile starts FROM, without pulling anything from
# a registry (none is reachable on the machines this runs on):
#
#   cda-debian:bookworm      Debian 12 minbase from debootstrap (+ tini, ca-certificates, libstdc++6,
#                            acl for setfacl, procps), imported with `docker import`
#   cda-node:bookworm        + this host's own Node.js binary (runtime stages)
#   cda-node-build:bookworm  + this host's npm (build stage only: `npm prune`)
#
# Node is copied from the host rather than installed from Debian because bookworm ships Node 18 and
# the project needs 20+; the binary only needs libstdc++6 beyond libc. The debootstrap tree is
# trimmed (apt lists and caches, man pages, locales) and cached as a tarball, so re-runs take
# seconds: $CDA_DOCKER_CACHE (default docker/.cache) / debian-bookworm-minbase.tar.
#
# Usage: docker/build-base.sh [--rebuild]   (--rebuild: debootstrap again even when cached)
# Env:   CDA_DEBIAN_MIRROR   Debian mirror (default: the one apt uses here, else deb.debian.org)
#        CDA_NODE            Node binary to copy (default: `command -v node`)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CDA_DOCKER_CACHE:-$here/.cache}
rootfs_tar=$cache/debian-bookworm-minbase.tar
rebuild=0
[ "${1:-}" = "--rebuild" ] && rebuild=1

say() { printf '[build-base] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (start it: dockerd >/tmp/dockerd.log 2>&1 &)"

# The mirror apt is configured with here (deb822 "URIs:" or one-line "deb URL bookworm"), because
# that is the one known to be reachable.
debian_mirror() {
  if [ -n "${CDA_DEBIAN_MIRROR:-}" ]; then echo "$CDA_DEBIAN_MIRROR"; return; fi
  local f url
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    url=$(awk '
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri ~ /\/debian\/?$/) { print uri; exit } }
      /^deb / { for (i = 2; i <= NF; i++) if ($i == "bookworm" && $(i - 1) ~ /\/debian\/?$/) { print $(i - 1); exit } }
    ' "$f")
    if [ -n "$url" ]; then echo "$url"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# 1. cda-debian:bookworm
if [ "$rebuild" = 1 ] || ! image_exists cda-debian:bookworm; then
  if [ "$rebuild" = 1 ] || [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install -y debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    mirror=$(debian_mirror)
    work=$(mktemp -d /tmp/cda-debootstrap.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    say "debootstrap bookworm (minbase) from $mirror into $work (about a minute)"
    debootstrap --variant=minbase --include=tini,ca-certificates,libstdc++6,acl,procps \
      bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    # What an image does not need: package caches and lists (nothing is installed later),
    # documentation except copyright notices, man pages, translations.
    rm -rf "$work"/rootfs/var/cache/apt/* "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/usr/share/man/* \
      "$work"/rootfs/usr/share/locale/* "$work"/rootfs/usr/share/info/* "$work"/rootfs/var/log/*
    find "$work/rootfs/usr/share/doc" -type f ! -name copyright -delete
    mkdir -p "$cache"
    tar --numeric-owner -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work"
    trap - EXIT
    say "cached the root filesystem in $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1))"
  else
    say "using the cached root filesystem $rootfs_tar"
  fi
  docker import --change 'CMD ["/bin/bash"]' --message 'Debian bookworm minbase (debootstrap)' "$rootfs_tar" cda-debian:bookworm >/dev/null
  say "imported cda-debian:bookworm"
fi

# 2. cda-node:bookworm and cda-node-build:bookworm from the host's Node and npm.
node_bin=${CDA_NODE:-$(command -v node)}
[ -x "$node_bin" ] || die "no Node.js binary found (set CDA_NODE)"
node_bin=$(readlink -f "$node_bin")
node_version=$("$node_bin" --version)
case $node_version in
  v2[0-9].* | v[3-9][0-9].*) ;;
  *) die "Node.js $node_version at $node_bin is too old: the project needs 20 or later" ;;
esac
npm_dir=$(readlink -f "$(dirname "$node_bin")/../lib/node_modules/npm")
[ -f "$npm_dir/bin/npm-cli.js" ] || die "npm not found next to $node_bin (expected $npm_dir)"

current=$(docker image inspect --format '{{ index .Config.Labels "cda.node.version" }}' cda-node-build:bookworm 2>/dev/null || true)
if [ "$rebuild" = 1 ] || [ "$current" != "$node_version" ] || ! image_exists cda-node:bookworm; then
  ctx=$(mktemp -d /tmp/cda-node-ctx.XXXXXX)
  trap 'rm -rf "$ctx"' EXIT
  cp "$node_bin" "$ctx/node"
  cp -r "$npm_dir" "$ctx/npm"
  cp "$here/base.Dockerfile" "$ctx/Dockerfile"
  for target in node node-build; do
    docker build --target "$target" --build-arg "NODE_VERSION=$node_version" -t "cda-$target:bookworm" "$ctx" >"$ctx/build.log" 2>&1 \
      || { grep -v -e '^DEPRECATED' -e 'legacy builder' -e 'buildx' "$ctx/build.log" | tail -30 >&2; die "docker build of cda-$target:bookworm failed (output above)"; }
  done
  rm -rf "$ctx"
  trap - EXIT
  say "built cda-node:bookworm and cda-node-build:bookworm with Node $node_version"
else
  say "cda-node:bookworm is up to date (Node $node_version)"
fi
