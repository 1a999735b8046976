#!/usr/bin/env bash
# npm run test:docker — the Docker fleet end to end (not part of npm test: it needs a Docker daemon
# and takes minutes cold). It
#   1. builds the base images (debootstrap, or the cached root filesystem) and the agent and
#      control-plane images (docker/build-base.sh, docker/build-images.sh);
#   2. starts docker/compose.yml — the control plane and agents host-1..3 — with `docker compose`,
#      else `docker-compose`, else the equivalent `docker run`s generated from the same file
#      (test/docker/compose-to-run.mjs); CDA_DOCKER_MODE=compose|run forces one;
#   3. deploys samples/hello-app twice with the aws CLI from this host (docker/deploy-sample.sh:
#      S3 upload, application, tag-filtered deployment group, on-premises registration, deployment);
#   4. checks the outcome: both deployments Succeeded on all three instances, each agent's
#      scripts.log (read with `codedeploy-agent logs` in the container and as the raw file) holds
#      every hook's output, the files are installed, the second deployment's ApplicationStop ran
#      from the first revision, the agent's process has no credentials in its environment, agents
#      see the CA certificate but not its key, `codedeploy-agent status` and `doctor` pass in a
#      container, the control plane runs as uid 10001 and is healthy, and an agent stopped with
#      `docker stop` exits 0;
#   5. tears everything down (containers, network, volumes) whatever happened; --keep leaves the
#      fleet running for a look around, --no-build uses the images as they are.
# Prints each check, what ran (compose or docker run), and how long each phase took.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
keep=0 build=1
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    --no-build) build=0 ;;
    *) echo "usage: run-docker-test.sh [--keep] [--no-build]" >&2; exit 2 ;;
  esac
done
project=cdadt$$
aws_cli=${AWS_CLI:-}
if [ -z "$aws_cli" ]; then
  if [ -x /usr/bin/aws ]; then aws_cli=/usr/bin/aws; else aws_cli=aws; fi
fi
export AWS_CLI=$aws_cli AWS_ACCESS_KEY_ID=AKIDLOCALDOCKERTEST AWS_SECRET_ACCESS_KEY=local-docker-test AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""

started=$(date +%s)
phase_start=$started
timings=()
phase() {
  local now
  now=$(date +%s)
  timings+=("$1: $((now - phase_start)) s")
  phase_start=$now
}
checks=0
ok() { checks=$((checks + 1)); printf '  ok %2d  %s\n' "$checks" "$*"; }
failed=0
fail() { failed=1; printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

# --- preflight ---------------------------------------------------------------------------------
command -v docker >/dev/null || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "the Docker daemon is not reachable"
command -v "$aws_cli" >/dev/null || fail "the aws CLI ($aws_cli) is not installed"
mode=${CDA_DOCKER_MODE:-auto}
compose=()
if [ "$mode" != run ]; then
  if docker compose version >/dev/null 2>&1; then compose=(docker compose)
  elif command -v docker-compose >/dev/null && docker-compose version >/dev/null 2>&1; then compose=(docker-compose)
  fi
  if [ ${#compose[@]} -eq 0 ]; then
    [ "$mode" = compose ] && fail "CDA_DOCKER_MODE=compose but neither 'docker compose' nor 'docker-compose' works"
    mode=run
  else
    mode=compose
  fi
fi
port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
endpoint=http://127.0.0.1:$port
export CDA_CONTROL_PLANE_PORT=$port
services=(controlplane agent-1 agent-2 agent-3)
agents=(agent-1 agent-2 agent-3)

container() { # service -> container id
  if [ "$mode" = compose ]; then "${compose[@]}" -f docker/compose.yml -p "$project" ps -q "$1"; else echo "$project-$1"; fi
}

diagnostics() {
  echo "--- diagnostics ($mode, project $project)" >&2
  docker ps -a --filter "name=$project" --format '{{.Names}}  {{.Status}}' >&2 || true
  local s c
  for s in "${services[@]}"; do
    c=$(container "$s" 2>/dev/null) || continue
    [ -n "$c" ] || continue
    echo "--- docker logs $s (last 25 lines)" >&2
    docker logs --tail 25 "$c" 2>&1 | cut -c1-400 >&2 || true
    if [ "$s" != controlplane ]; then
      echo "--- $s: agent log (last 15 lines)" >&2
      docker exec "$c" sh -c 'tail -n 15 /var/log/aws/codedeploy-agent/codedeploy-agent.log' 2>&1 | cut -c1-400 >&2 || true
    fi
  done
}

teardown() {
  local status=$?
  [ "$failed" = 1 ] || [ "$status" = 0 ] || failed=1
  [ "$failed" = 1 ] && diagnostics
  if [ "$keep" = 1 ]; then
    echo "--keep: the fleet is still running (project $project, control plane $endpoint)" >&2
    return
  fi
  local t0
  t0=$(date +%s)
  if [ "$mode" = compose ]; then
    "${compose[@]}" -f docker/compose.yml -p "$project" down --volumes --remove-orphans --timeout 30 >/dev/null 2>&1 || true
  else
    local s
    for s in "${services[@]}"; do docker rm -f "$project-$s" >/dev/null 2>&1 || true; done
    docker network rm "$project-net" >/dev/null 2>&1 || true
    docker volume rm "$project-cp-data" "$project-ca-public" >/dev/null 2>&1 || true
  fi
  left=$(docker ps -aq --filter "name=$project"; docker volume ls -q --filter "name=$project"; docker network ls -q --filter "name=$project")
  [ -z "$left" ] || { echo "teardown left behind: $left" >&2; status=1; }
  echo "teardown: $(($(date +%s) - t0)) s"
  if [ "$failed" = 1 ] || [ "$status" != 0 ]; then
    echo "docker test: FAILED after $(($(date +%s) - started)) s" >&2
    exit 1
  fi
}
trap teardown EXIT

echo "docker test: mode $mode${compose[*]:+ (${compose[*]})}, project $project, control plane $endpoint, aws CLI $($aws_cli --version 2>&1 | cut -d' ' -f1)"

# --- 1. images ---------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
  docker/build-images.sh
else
  docker image inspect codedeploy-agent:local codedeploy-control-plane:local >/dev/null 2>&1 || fail "--no-build, but the images are missing"
fi
phase "images (base + agent + control plane)"

# --- 2. the fleet ------------------------------------------------------------------------------
if [ "$mode" = compose ]; then
  "${compose[@]}" -f docker/compose.yml -p "$project" up --detach --no-build >/dev/null 2>&1 \
    || { "${compose[@]}" -f docker/compose.yml -p "$project" up --detach --no-build; fail "compose up failed"; }
else
  docker network create "$project-net" >/dev/null
  docker volume create "$project-cp-data" >/dev/null
  docker volume create "$project-ca-public" >/dev/null
  for s in "${services[@]}"; do
    mapfile -d '' run_args < <(node test/docker/compose-to-run.mjs "$s" "$project" "$port")
    [ ${#run_args[@]} -gt 0 ] || fail "compose-to-run.mjs gave nothing for $s"
    docker run "${run_args[@]}" >/dev/null
    if [ "$s" = controlplane ]; then # what depends_on: service_healthy does under compose
      for _ in $(seq 1 120); do
        [ "$(docker inspect --format '{{.State.Health.Status}}' "$project-controlplane")" = healthy ] && break
        sleep 0.5
      done
    fi
  done
fi
cp_id=$(container controlplane)
for _ in $(seq 1 120); do
  [ "$(docker inspect --format '{{.State.Health.Status}}' "$cp_id")" = healthy ] && break
  sleep 0.5
done
[ "$(docker inspect --format '{{.State.Health.Status}}' "$cp_id")" = healthy ] || fail "the control plane is not healthy"
ok "control plane healthy (HEALTHCHECK: /_health answers and the CA certificate is published)"
for s in "${agents[@]}"; do
  c=$(container "$s")
  for _ in $(seq 1 60); do
    docker exec "$c" sh -c 'test -s /var/log/aws/codedeploy-agent/codedeploy-agent.log' 2>/dev/null && break
    sleep 0.5
  done
  [ "$(docker inspect --format '{{.State.Running}}' "$c")" = true ] || fail "$s is not running"
done
ok "agents host-1..3 running and logging"
phase "fleet start"

# --- 3. deployments ----------------------------------------------------------------------------
deploy() { # -> deployment id on stdout; the script's progress goes to deploy-N.log
  local n=$1 id
  if ! id=$(docker/deploy-sample.sh --endpoint "$endpoint" 2>"/tmp/$project-deploy-$n.log"); then
    cat "/tmp/$project-deploy-$n.log" >&2
    fail "deployment $n (${id:-not created}) did not succeed"
  fi
  rm -f "/tmp/$project-deploy-$n.log"
  echo "$id"
}
overview() { "$aws_cli" --endpoint-url "$endpoint" deploy get-deployment --deployment-id "$1" --query "[deploymentInfo.status, deploymentInfo.deploymentOverview.Succeeded, deploymentInfo.deploymentOverview.Failed]" --output text; }

id1=$(deploy 1)
read -r status succeeded failed_count < <(overview "$id1")
[ "$status $succeeded $failed_count" = "Succeeded 3 0" ] || fail "deployment 1 $id1: status/succeeded/failed = $status $succeeded $failed_count"
ok "deployment 1 ($id1) Succeeded on 3 instances (aws deploy get-deployment)"
phase "deployment 1"

expect_in() { # haystack needle what
  grep -qF -- "$2" <<<"$1" || fail "$3: no \"$2\" in:
$1"
}

# The hooks a deployment ran, from `codedeploy-agent logs` in the container, and the raw scripts.log.
check_logs() { # service deployment-id expected-lifecycle-events...
  local s=$1 id=$2 c logs raw events lines
  shift 2
  c=$(container "$s")
  logs=$(docker exec "$c" codedeploy-agent logs --deployment "$id") || fail "$s: codedeploy-agent logs --deployment $id failed"
  for event in "$@"; do
    case $event in
      ApplicationStop) expect_in "$logs" "[stdout]stopping hello-app (started " "$s ApplicationStop (the previous revision's stop.sh)" ;;
      ApplicationStart)
        expect_in "$logs" "[stdout]started hello-app from /opt/codedeploy-agent/hello-app/site" "$s ApplicationStart"
        expect_in "$logs" "[stderr]a warning on stderr, to show how it is logged" "$s ApplicationStart stderr" ;;
      ValidateService) expect_in "$logs" "[stdout]index.html is in place:" "$s ValidateService" ;;
      *) expect_in "$logs" "[stdout]$event of HelloApp, deployment $id (group hello-fleet)" "$s $event" ;;
    esac
  done
  raw=$(docker exec "$c" sh -c "cat /opt/codedeploy-agent/deployment-root/*/$id/logs/scripts.log") || fail "$s: no scripts.log for $id"
  events=$(grep -oE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} LifecycleEvent - [A-Za-z]+$' <<<"$raw" | sed 's/.* - //' | tr '\n' ' ')
  [ "$events" = "$* " ] || fail "$s: scripts.log of $id has the events [$events], expected [$* ]:
$raw"
  lines=$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \[(stdout|stderr)\]' <<<"$raw" || true)
  [ "$lines" -eq $(($# + 1)) ] || fail "$s: scripts.log of $id has $lines output lines, expected $(($# + 1)) (one per hook, two for ApplicationStart):
$raw"
}

# First deployment: no previous revision, so ApplicationStop and the block-traffic hooks are no-ops.
first=(BeforeInstall AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AfterAllowTraffic)
for s in "${agents[@]}"; do
  check_logs "$s" "$id1" "${first[@]}"
  c=$(container "$s")
  html=$(docker exec "$c" cat /opt/codedeploy-agent/hello-app/site/index.html) || fail "$s: index.html not installed"
  expect_in "$html" "Hello" "$s installed index.html"
  docker exec "$c" test -f /opt/codedeploy-agent/hello-app/running || fail "$s: ApplicationStart left no hello-app/running"
  ok "$s: $id1 ran ${#first[@]} hooks (codedeploy-agent logs and scripts.log agree, official line format), site installed"
done

id2=$(deploy 2)
read -r status succeeded failed_count < <(overview "$id2")
[ "$status $succeeded $failed_count" = "Succeeded 3 0" ] || fail "deployment 2 $id2: status/succeeded/failed = $status $succeeded $failed_count"
ok "deployment 2 ($id2) Succeeded on 3 instances"
# Second deployment: all nine hooks; the first three come from the first revision.
all=(BeforeBlockTraffic AfterBlockTraffic ApplicationStop "${first[@]}")
for s in "${agents[@]}"; do check_logs "$s" "$id2" "${all[@]}"; done
ok "$id2 ran all ${#all[@]} hooks on every host; ApplicationStop ran the first revision's stop.sh"
phase "deployment 2 and log checks"

# --- 4. the containers themselves --------------------------------------------------------------
for s in "${agents[@]}"; do
  c=$(container "$s")
  # shellcheck disable=SC2016 # expanded in the container
  env_dump=$(docker exec "$c" sh -c 'for p in $(ps -o pid= -C node); do tr "\0" "\n" < /proc/$p/environ; done')
  [ -n "$env_dump" ] || fail "$s: no agent process found"
  if grep -qE '^(CODEDEPLOY_SECRET_ACCESS_KEY|CODEDEPLOY_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=' <<<"$env_dump"; then fail "$s: credentials in the agent's environment"; fi
  [ "$(docker exec "$c" stat -c %a /etc/codedeploy-agent/conf/codedeploy.onpremises.yml)" = 600 ] || fail "$s: onpremises.yml is not 0600"
  [ "$(docker exec "$c" ls /etc/codedeploy-agent/ca)" = ca.pem ] || fail "$s: the CA volume holds more than ca.pem"
done
ok "agents: no keys in the agent's environment, onpremises.yml 0600, only ca.pem (no key) in the shared CA volume"
c=$(container agent-1)
status_out=$(docker exec "$c" codedeploy-agent status) || fail "codedeploy-agent status failed in agent-1"
expect_in "$status_out" "codedeploy-agent: running" "agent-1 status"
expect_in "$status_out" "$id2" "agent-1 status (last deployments)"
doctor_out=$(docker exec "$c" codedeploy-agent doctor) || fail "codedeploy-agent doctor found problems in agent-1:
$doctor_out"
ok "agent-1: codedeploy-agent status lists $id2; codedeploy-agent doctor passes ($(tail -n 1 <<<"$doctor_out"))"
[ "$(docker exec "$cp_id" id -u)" = 10001 ] || fail "the control plane does not run as uid 10001"
cmp -s <(docker exec "$cp_id" cat /var/lib/codedeploy-control-plane/ca/ca.pem) <(docker exec "$(container agent-1)" cat /etc/codedeploy-agent/ca/ca.pem) \
  || fail "the agents' CA certificate differs from the control plane's"
ok "control plane runs as uid 10001; agents trust exactly its CA certificate"
c=$(container agent-3)
t0=$(date +%s)
docker stop --time 30 "$c" >/dev/null
[ "$(docker inspect --format '{{.State.ExitCode}}' "$c")" = 0 ] || fail "agent-3 exited $(docker inspect --format '{{.State.ExitCode}}' "$c") on docker stop"
ok "docker stop agent-3: exit 0 after $(($(date +%s) - t0)) s (SIGTERM through tini)"
phase "container checks"

echo
echo "docker test: PASSED, $checks checks in $(($(date +%s) - started)) s ($mode mode${compose[*]:+: ${compose[*]}})"
printf '  %s\n' "${timings[@]}"
