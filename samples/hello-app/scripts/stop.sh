#!/bin/sh
# Runs from the previous revision; nothing to stop on the first deployment.
if [ -f hello-app/running ]; then
  echo "stopping hello-app (started $(cat hello-app/running))"
  rm -f hello-app/running
else
  echo "hello-app is not running"
fi
