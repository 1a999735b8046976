/* global process, console, setTimeout */
// The sample's web app, for load-balanced deployments (npm run demo -- --traffic): serves
// site/index.html with the revision's version (site/version.txt) in an X-App-Version header
// and the body (and the host's LABEL in X-App-Host), and /health for the load balancer's health checks. Started by
// scripts/start.sh when the host has a hello-app.env (PORT=, NODE=) in its working directory.
// On SIGTERM it stops accepting connections and lets in-flight requests finish.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [port, siteDir] = process.argv.slice(2);
if (!port || !siteDir) {
  console.error('usage: node server.mjs PORT SITE_DIR');
  process.exit(64);
}
const page = readFileSync(join(siteDir, 'index.html'), 'utf8');
const version = readFileSync(join(siteDir, 'version.txt'), 'utf8').trim();
const host = process.env.APP_LABEL ?? '';

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  const body = page.replace('</h1>', ` (${version}${host ? ` on ${host}` : ''})</h1>`);
  res
    .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-app-version': version, ...(host ? { 'x-app-host': host } : {}) })
    .end(body);
});
server.keepAliveTimeout = 2000;
server.listen(Number(port), '127.0.0.1', () => console.log(`hello-app ${version} listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
