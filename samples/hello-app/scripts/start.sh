#!/bin/sh
# The working directory is the agent's (:working_directory:), where the files were installed.
date -u +%Y-%m-%dT%H:%M:%SZ > hello-app/running
echo "started hello-app from $(pwd)/hello-app/site"
echo "a warning on stderr, to show how it is logged" >&2
