#!/usr/bin/env bash
# Deploys samples/hello-app to the Docker fleet with the aws CLI: the docker/README.md walk-through
# as one script (the Docker test runs it too). Safe to run again: what exists is kept, and each run
# creates one new deployment.
#
#   docker/deploy-sample.sh [--endpoint URL] [--hosts "host-1 host-2 host-3"] [--config NAME] [--traffic]
#
# --traffic: the hosts' web app (port 3000, CODEDEPLOY_WEB_PORT) behind a local load balancer
# listening on the control plane's port 8081 (curl http://127.0.0.1:8081/), and a group (hello-web)
# WITH_TRAFFIC_CONTROL, so each host is drained before it is updated. Prints progress on stderr
# and, on stdout, only the deployment id; exits 0 when the deployment Succeeded, 1 when it Failed
# or Stopped (with its error information), 2 on bad usage.
# Env: AWS_CLI (default: aws), AWS_* credentials and region (any values work locally; defaults set).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
endpoint=http://127.0.0.1:${CDA_CONTROL_PLANE_PORT:-8080}
hosts="host-1 host-2 host-3"
config=CodeDeployDefault.AllAtOnce
traffic=
while [ $# -gt 0 ]; do
  case $1 in
    --endpoint) endpoint=${2:?--endpoint needs a URL}; shift 2 ;;
    --hosts) hosts=${2:?--hosts needs names}; shift 2 ;;
    --config) config=${2:?--config needs a deployment config name}; shift 2 ;;
    --traffic) traffic=1; config=CodeDeployDefault.OneAtATime; shift ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "deploy-sample.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDLOCALOPERATOR}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local-operator-secret}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
aws_cli=${AWS_CLI:-aws}
bucket=cda-samples key=hello-app.tgz app=HelloApp group=hello-fleet

aws() { echo "+ aws $*" >&2; "$aws_cli" --endpoint-url "$endpoint" "$@"; }
quiet() { "$aws_cli" --endpoint-url "$endpoint" "$@" >/dev/null 2>&1; }

work=$(mktemp -d /tmp/cda-deploy-sample.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$here/../samples/hello-app" --owner=0 --group=0 -czf "$work/$key" .

# 1. The revision, in the control plane's S3 endpoint.
quiet s3api head-bucket --bucket "$bucket" || aws s3 mb "s3://$bucket" >&2
aws s3 cp "$work/$key" "s3://$bucket/$key" >&2
etag=$(aws s3api head-object --bucket "$bucket" --key "$key" --query ETag --output text)
etag=${etag//\"/}

# 2. The instances: registered with their IAM user ARN (what each agent polls as) and tagged.
for host in $hosts; do
  quiet deploy get-on-premises-instance --instance-name "$host" \
    || aws deploy register-on-premises-instance --instance-name "$host" --iam-user-arn "arn:aws:iam::000000000000:user/$host" >&2
done
# shellcheck disable=SC2086 # one instance name per word
aws deploy add-tags-to-on-premises-instances --instance-names $hosts --tags Key=fleet,Value=docker >&2

# 3. With --traffic: a target group (health checks on /health), a load balancer and its listener on
# port 8081; each host's web app address as its local:traffic-address tag.
style=()
if [ -n "$traffic" ]; then
  group=hello-web
  tg=$("$aws_cli" --endpoint-url "$endpoint" elbv2 describe-target-groups --names hello-web \
    --query 'TargetGroups[0].TargetGroupArn' --output text 2>/dev/null || true)
  if [ -z "$tg" ]; then
    tg=$(aws elbv2 create-target-group --name hello-web --protocol HTTP --port 3000 --vpc-id vpc-local --target-type instance \
      --health-check-path /health --health-check-interval-seconds 5 --health-check-timeout-seconds 2 \
      --query 'TargetGroups[0].TargetGroupArn' --output text)
    aws elbv2 modify-target-group-attributes --target-group-arn "$tg" --attributes Key=deregistration_delay.timeout_seconds,Value=5 >&2
    lb=$(aws elbv2 create-load-balancer --name hello-lb --subnets subnet-a subnet-b --query 'LoadBalancers[0].LoadBalancerArn' --output text)
    aws elbv2 create-listener --load-balancer-arn "$lb" --protocol HTTP --port 8081 --default-actions "Type=forward,TargetGroupArn=$tg" >&2
  fi
  for host in $hosts; do
    aws deploy add-tags-to-on-premises-instances --instance-names "$host" --tags "Key=local:traffic-address,Value=$host:3000" >&2
  done
  # shellcheck disable=SC2054 # the commas are the aws CLI's shorthand syntax
  style=(--deployment-style deploymentType=IN_PLACE,deploymentOption=WITH_TRAFFIC_CONTROL --load-balancer-info 'targetGroupInfoList=[{name=hello-web}]')
fi

# 4. Application and deployment group (on-premises tag filter).
quiet deploy get-application --application-name "$app" || aws deploy create-application --application-name "$app" >&2
quiet deploy get-deployment-group --application-name "$app" --deployment-group-name "$group" \
  || aws deploy create-deployment-group --application-name "$app" --deployment-group-name "$group" \
    --deployment-config-name "$config" --service-role-arn arn:aws:iam::000000000000:role/CodeDeployLocal \
    --on-premises-instance-tag-filters Key=fleet,Value=docker,Type=KEY_AND_VALUE "${style[@]}" >&2

# 5. The deployment, then its status until it ends.
id=$(aws deploy create-deployment --application-name "$app" --deployment-group-name "$group" \
  --s3-location "bucket=$bucket,key=$key,bundleType=tgz,eTag=$etag" \
  --description "docker/deploy-sample.sh" --query deploymentId --output text)
echo "created deployment $id; waiting for it to finish" >&2
status=unknown
for _ in $(seq 1 360); do
  status=$("$aws_cli" --endpoint-url "$endpoint" deploy get-deployment --deployment-id "$id" --query deploymentInfo.status --output text 2>/dev/null || echo unknown)
  case $status in
    Succeeded)
      aws deploy get-deployment --deployment-id "$id" --query deploymentInfo.deploymentOverview --output json >&2
      echo "deployment $id Succeeded" >&2
      echo "$id"
      exit 0 ;;
    Failed | Stopped)
      aws deploy get-deployment --deployment-id "$id" --query '[deploymentInfo.errorInformation, deploymentInfo.deploymentOverview]' --output json >&2
      echo "deployment $id $status" >&2
      echo "$id"
      exit 1 ;;
  esac
  sleep 0.5
done
echo "deployment $id did not finish within 180 s (last status: $status)" >&2
echo "$id"
exit 1
