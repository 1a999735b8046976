#!/bin/sh
# The working directory is the agent's (:working_directory:), where the files were installed.
date -u +%Y-%m-%dT%H:%M:%SZ > hello-app/running
echo "started hello-app from $(pwd)/hello-app/site"
echo "a warning on stderr, to show how it is logged" >&2
# Hosts behind a load balancer (npm run demo -- --traffic) have a hello-app.env with PORT= and
# NODE= (the node binary) and optionally LABEL= (a host name for the page): serve the site there, detached from the hook's output.
if [ -f hello-app.env ]; then
  # shellcheck source=/dev/null
  . ./hello-app.env
  APP_LABEL="${LABEL:-}" nohup "$NODE" hello-app/web/server.mjs "$PORT" hello-app/site > hello-app/server.log 2>&1 < /dev/null &
  echo $! > hello-app/server.pid
  echo "serving hello-app $(cat hello-app/site/version.txt) on port $PORT (pid $!)"
fi
