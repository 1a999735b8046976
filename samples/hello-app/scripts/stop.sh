#!/bin/sh
# Runs from the previous revision; nothing to stop on the first deployment.
if [ -f hello-app/running ]; then
  echo "stopping hello-app (started $(cat hello-app/running))"
  rm -f hello-app/running
else
  echo "hello-app is not running"
fi
if [ -f hello-app/server.pid ]; then
  pid=$(cat hello-app/server.pid)
  # It finishes in-flight requests, then exits (at most 5 s).
  kill "$pid" 2>/dev/null && echo "stopping the web app (pid $pid)"
  i=0
  # Gone, or a zombie waiting for whoever adopted it (it was started detached) to reap it.
  alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
  while alive "$pid" && [ $i -lt 60 ]; do sleep 0.1; i=$((i + 1)); done
  rm -f hello-app/server.pid
fi
