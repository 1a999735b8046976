#!/bin/sh
# Every hook gets the deployment's identity in its environment.
echo "$LIFECYCLE_EVENT of $APPLICATION_NAME, deployment $DEPLOYMENT_ID (group $DEPLOYMENT_GROUP_NAME)"
