#!/bin/sh
set -e
test -f hello-app/site/index.html
grep -q "Hello" hello-app/site/index.html
echo "index.html is in place: $(wc -c < hello-app/site/index.html) bytes"
