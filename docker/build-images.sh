#!/usr/bin/env bash
# Builds codedeploy-agent:local and codedeploy-control-plane:local from docker/Dockerfile, making
# the base images first when they are missing (docker/build-base.sh).
#
# The build context is streamed as a tar of exactly what the Dockerfile copies (sources, tsconfig,
# package files, the installed node_modules, docker/), so neither .git, dist nor the base image
# cache is sent to the daemon, whatever .dockerignore says.
#
# Usage: docker/build-images.sh [--tag TAG]   (default tag: local)
# Needs: `npm ci` done in the repository (node_modules with the dev dependencies: tsc runs in the image).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tag=local
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    *) echo "usage: docker/build-images.sh [--tag TAG]" >&2; exit 2 ;;
  esac
done

say() { printf '[build-images] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -x "$repo/node_modules/typescript/bin/tsc" ] || [ -f "$repo/node_modules/typescript/bin/tsc" ] \
  || die "node_modules has no typescript: run npm ci in $repo first"
ls "$repo"/node_modules/better-sqlite3/build/Release/*.node >/dev/null 2>&1 \
  || die "better-sqlite3 has no compiled addon in node_modules: run npm ci in $repo first"

"$here/build-base.sh"

context=(package.json package-lock.json tsconfig.json tsconfig.build.json appspec common agent control-plane scripts bench node_modules docker/Dockerfile docker/entrypoint.sh)
for path in "${context[@]}"; do
  [ -e "$repo/$path" ] || die "missing $repo/$path"
done

for target in agent control-plane; do
  image=codedeploy-$target:$tag
  say "building $image (target $target)"
  start=$(date +%s)
  log=$(mktemp /tmp/cda-build-$target.XXXXXX)
  if ! tar -C "$repo" --exclude=node_modules/.cache -c "${context[@]}" \
    | docker build --target "$target" -f docker/Dockerfile -t "$image" - >"$log" 2>&1; then
    grep -v -e '^DEPRECATED' -e 'legacy builder' -e 'buildx' "$log" | tail -40 >&2
    rm -f "$log"
    die "docker build of $image failed (output above)"
  fi
  rm -f "$log"
  say "built $image in $(($(date +%s) - start)) s"
done
