#!/bin/sh
# cda-entrypoint: what the images run under tini.
#
#   agent [start options]          write the agent's configuration from CODEDEPLOY_* variables (unless
#                                  files are mounted), wait for the control plane's CA, exec the agent
#   control-plane [options]        run the local control plane on 0.0.0.0:$CODEDEPLOY_PORT and publish
#                                  its CA certificate (never its key) for the agents
#   healthcheck                    the control plane answers /_health and its CA is published
#   anything else                  exec'd as is (codedeploy-agent logs, sh, ...)
#
# Agent variables (only CODEDEPLOY_INSTANCE_NAME is required):
#   CODEDEPLOY_INSTANCE_NAME        on-premises instance name, e.g. host-1
#   CODEDEPLOY_IAM_USER_ARN         default arn:aws:iam::000000000000:user/<instance name>
#   CODEDEPLOY_ACCESS_KEY_ID        the instance's IAM user keys (the local control plane accepts any;
#   CODEDEPLOY_SECRET_ACCESS_KEY      default: derived from the instance name)
#   CODEDEPLOY_REGION               default us-east-1
#   CODEDEPLOY_ENDPOINT             control plane URL, default http://controlplane:8080 (commands API,
#                                   S3 endpoint, and GitHub at <endpoint>/github)
#   CODEDEPLOY_CA_FILE              CA the spec signer must chain to, default /etc/codedeploy-agent/ca/ca.pem
#   CODEDEPLOY_WAIT_SECONDS         how long to wait for that CA file, default 120
#   CODEDEPLOY_CONF_DIR             where the two files go, default /etc/codedeploy-agent/conf (a mounted
#                                   codedeployagent.yml or codedeploy.onpremises.yml there is used as is)
# The keys are written to codedeploy.onpremises.yml (mode 0600) and removed from the environment
# before the agent starts, so hook scripts never see them.
#
# Control-plane variables: CODEDEPLOY_DATA_DIR (default /var/lib/codedeploy-control-plane),
# CODEDEPLOY_CA_PUBLISH_DIR (default /var/lib/codedeploy-ca-public), CODEDEPLOY_PORT (default 8080).
set -eu

CDA_HOME=${CDA_HOME:-/usr/local/lib/codedeploy-agent}
CONF_DIR=${CODEDEPLOY_CONF_DIR:-/etc/codedeploy-agent/conf}
DATA_DIR=${CODEDEPLOY_DATA_DIR:-/var/lib/codedeploy-control-plane}
PUBLISH_DIR=${CODEDEPLOY_CA_PUBLISH_DIR:-/var/lib/codedeploy-ca-public}
PORT=${CODEDEPLOY_PORT:-8080}

say() { printf 'cda-entrypoint: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 64; }

# Values are written into YAML between single quotes: refuse what would need escaping rather than
# escape it (no legitimate name, ARN, key or URL contains these).
check_value() {
  case $2 in
    '' ) die "$1 is empty" ;;
    *"'"* | *'"'* | *\\* ) die "$1 contains a quote or backslash" ;;
  esac
  if [ "$(printf '%s' "$2" | wc -l)" -ne 0 ]; then die "$1 contains a line break"; fi
}

http_ok() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

run_agent() {
  config=$CONF_DIR/codedeployagent.yml
  onprem=$CONF_DIR/codedeploy.onpremises.yml
  endpoint=${CODEDEPLOY_ENDPOINT:-http://controlplane:8080}
  endpoint=${endpoint%/}
  ca_file=${CODEDEPLOY_CA_FILE:-/etc/codedeploy-agent/ca/ca.pem}
  mkdir -p "$CONF_DIR"

  if [ -e "$onprem" ]; then
    say "using the mounted $onprem"
  else
    name=${CODEDEPLOY_INSTANCE_NAME:-}
    [ -n "$name" ] || die "set CODEDEPLOY_INSTANCE_NAME (e.g. host-1) or mount $onprem"
    case $name in *[!A-Za-z0-9._@+=,-]*) die "CODEDEPLOY_INSTANCE_NAME \"$name\" may only contain letters, digits and ._@+=,-" ;; esac
    arn=${CODEDEPLOY_IAM_USER_ARN:-arn:aws:iam::000000000000:user/$name}
    key_id=${CODEDEPLOY_ACCESS_KEY_ID:-AKIDLOCAL$(printf '%s' "$name" | tr -cd '[:alnum:]' | tr '[:lower:]' '[:upper:]')}
    secret=${CODEDEPLOY_SECRET_ACCESS_KEY:-local-secret-$name}
    region=${CODEDEPLOY_REGION:-us-east-1}
    check_value CODEDEPLOY_REGION "$region"
    check_value CODEDEPLOY_IAM_USER_ARN "$arn"
    check_value CODEDEPLOY_ACCESS_KEY_ID "$key_id"
    check_value CODEDEPLOY_SECRET_ACCESS_KEY "$secret"
    (
      umask 077
      {
        echo "# Written by cda-entrypoint from CODEDEPLOY_* variables."
        echo "region: '$region'"
        echo "iam_user_arn: '$arn'"
        echo "aws_access_key_id: '$key_id'"
        echo "aws_secret_access_key: '$secret'"
      } >"$onprem.tmp"
      mv -f "$onprem.tmp" "$onprem"
    )
    say "instance $name ($arn)"
  fi

  if [ -e "$config" ]; then
    say "using the mounted $config"
  else
    check_value CODEDEPLOY_ENDPOINT "$endpoint"
    check_value CODEDEPLOY_CA_FILE "$ca_file"
    {
      echo "# Written by cda-entrypoint for the local Docker fleet."
      echo ":log_dir: /var/log/aws/codedeploy-agent"
      echo ":root_dir: /opt/codedeploy-agent/deployment-root"
      echo ":working_directory: /opt/codedeploy-agent"
      echo ":on_premises_config_file: $onprem"
      echo ":deploy_control_endpoint: '$endpoint'"
      echo ":s3_endpoint_override: '$endpoint'"
      echo ":github_api_url: '$endpoint/github'"
      echo ":deployment_spec_ca_file: '$ca_file'"
      # No instance metadata service in a container: never wait for 169.254.169.254.
      echo ":imds_endpoint: http://127.0.0.1:9"
      # Below compose's stop_grace_period (30 s): the agent, not SIGKILL, ends running hooks.
      echo ":kill_agent_max_wait_time_seconds: 20"
    } >"$config.tmp"
    mv -f "$config.tmp" "$config"
  fi
  unset CODEDEPLOY_ACCESS_KEY_ID CODEDEPLOY_SECRET_ACCESS_KEY

  # The sample's web app (samples/hello-app: scripts/start.sh serves it when this file exists) on
  # CODEDEPLOY_WEB_PORT, for load-balanced deployments (docker/deploy-sample.sh --traffic).
  web_port=${CODEDEPLOY_WEB_PORT:-}
  if [ -n "$web_port" ]; then
    case $web_port in *[!0-9]*) die "CODEDEPLOY_WEB_PORT must be a port number, got \"$web_port\"" ;; esac
    mkdir -p /opt/codedeploy-agent
    printf 'PORT=%s\nNODE=%s\nLABEL=%s\n' "$web_port" "$(command -v node)" "${CODEDEPLOY_INSTANCE_NAME:-$(hostname)}" >/opt/codedeploy-agent/hello-app.env
  fi

  wait_s=${CODEDEPLOY_WAIT_SECONDS:-120}
  waited=0
  while [ ! -s "$ca_file" ]; do
    [ "$waited" -eq 0 ] && say "waiting up to ${wait_s}s for the control plane's CA certificate $ca_file"
    [ "$waited" -ge "$wait_s" ] && die "no CA certificate at $ca_file after ${wait_s}s (is the control plane up and its CA volume mounted?)"
    sleep 1
    waited=$((waited + 1))
  done
  exec node "$CDA_HOME/dist/agent/cli/codedeploy-agent.js" start --config_file "$config" "$@"
}

run_control_plane() {
  mkdir -p "$PUBLISH_DIR"
  # The certificate agents trust: the CA the control plane creates, or the operator's (--ca-cert).
  ca_cert=$DATA_DIR/ca/ca.pem
  prev=
  for arg in "$@"; do
    [ "$prev" = --ca-cert ] && ca_cert=$arg
    case $arg in --ca-cert=*) ca_cert=${arg#--ca-cert=} ;; esac
    prev=$arg
  done
  node "$CDA_HOME/dist/control-plane/cli/codedeploy-control-plane.js" --data-dir "$DATA_DIR" --host 0.0.0.0 --port "$PORT" "$@" &
  pid=$!
  # tini signals this shell; pass it on, then keep waiting for the control plane's own exit status.
  trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
  # The CA exists once the server answers; copy its certificate (atomically) to the shared volume.
  until http_ok "http://127.0.0.1:$PORT/_health"; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.3
  done
  if [ -s "$ca_cert" ]; then
    cp "$ca_cert" "$PUBLISH_DIR/.ca.pem.tmp"
    chmod 0644 "$PUBLISH_DIR/.ca.pem.tmp"
    mv -f "$PUBLISH_DIR/.ca.pem.tmp" "$PUBLISH_DIR/ca.pem"
    say "published the CA certificate to $PUBLISH_DIR/ca.pem"
  elif kill -0 "$pid" 2>/dev/null; then
    say "warning: no CA certificate at $ca_cert to publish; agents will wait for $PUBLISH_DIR/ca.pem"
  fi
  status=0
  while :; do
    wait "$pid" && status=0 || status=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  exit "$status"
}

case ${1:-agent} in
  agent)
    [ $# -gt 0 ] && shift
    run_agent "$@"
    ;;
  control-plane)
    shift
    run_control_plane "$@"
    ;;
  healthcheck)
    http_ok "http://127.0.0.1:$PORT/_health" && test -s "$PUBLISH_DIR/ca.pem"
    ;;
  *)
    exec "$@"
    ;;
esac
