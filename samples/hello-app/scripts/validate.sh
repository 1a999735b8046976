#!/bin/sh
set -e
test -f hello-app/site/index.html
grep -q "Hello" hello-app/site/index.html
echo "index.html is in place: $(wc -c < hello-app/site/index.html) bytes"
if [ -f hello-app.env ]; then
  # shellcheck source=/dev/null
  . ./hello-app.env
  "$NODE" -e '
    const url = `http://127.0.0.1:${process.argv[1]}/health`;
    const until = Date.now() + 10000;
    (async () => {
      for (;;) {
        try { if ((await fetch(url)).ok) { console.log(`the web app answers on ${url}`); return; } } catch {}
        if (Date.now() > until) { console.error(`the web app did not answer on ${url} within 10 s`); process.exit(1); }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();' "$PORT"
fi
