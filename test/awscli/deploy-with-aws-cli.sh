#!/usr/bin/env bash
# Drives the local control plane with the aws CLI (v2), the way a user would:
#   deploy-with-aws-cli.sh ENDPOINT_URL BUNDLE.tgz INSTANCE_NAME IAM_USER_ARN
# Needs AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION (any values) in the env.
# Prints "deployment <id> Succeeded" and exits 0, or says what failed and exits 1.
set -euo pipefail
endpoint=$1 bundle=$2 instance=$3 arn=$4
aws=${AWS_CLI:-/usr/bin/aws}
export AWS_PAGER=""
run() { echo "+ aws $*" >&2; "$aws" --endpoint-url "$endpoint" "$@"; }

run s3 mb s3://cli-revisions
run s3 cp "$bundle" s3://cli-revisions/app.tgz
read -r version etag < <(run s3api head-object --bucket cli-revisions --key app.tgz --query '[VersionId,ETag]' --output text)
etag=${etag//\"/}
run deploy create-application --application-name CliApp
run deploy create-deployment-group --application-name CliApp --deployment-group-name cli \
  --deployment-config-name CodeDeployDefault.AllAtOnce \
  --service-role-arn arn:aws:iam::000000000000:role/CodeDeployCli \
  --on-premises-instance-tag-filters Key=fleet,Value=cli,Type=KEY_AND_VALUE
run deploy register-on-premises-instance --instance-name "$instance" --iam-user-arn "$arn"
run deploy add-tags-to-on-premises-instances --instance-names "$instance" --tags Key=fleet,Value=cli
id=$(run deploy create-deployment --application-name CliApp --deployment-group-name cli \
  --s3-location "bucket=cli-revisions,key=app.tgz,bundleType=tgz,eTag=$etag,version=$version" \
  --description "aws CLI test" --query deploymentId --output text)
echo "created $id" >&2
for _ in $(seq 1 240); do
  status=$(run deploy get-deployment --deployment-id "$id" --query deploymentInfo.status --output text 2>/dev/null)
  case $status in
    Succeeded) echo "deployment $id Succeeded"; exit 0 ;;
    Failed|Stopped)
      echo "deployment $id $status" >&2
      run deploy get-deployment --deployment-id "$id" --query deploymentInfo.errorInformation >&2
      exit 1 ;;
  esac
  sleep 0.5
done
echo "deployment $id did not finish in 120 s (last status: $status)" >&2
exit 1
