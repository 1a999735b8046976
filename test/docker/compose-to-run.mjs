// Prints the `docker run` arguments (NUL-separated) equivalent to one service of docker/compose.yml,
// for machines without docker compose: run-docker-test.sh then starts the same fleet with plain
// `docker run`s, from the same file, so the two modes cannot drift apart.
//
//   node test/docker/compose-to-run.mjs SERVICE PROJECT PORT
//
// Handled: image, command, hostname, environment, ports (with ${CDA_CONTROL_PLANE_PORT:-8080}),
// named volumes (prefixed with PROJECT), stop_grace_period, the service name as network alias.
// Anything else in the service is an error, so a new compose feature is noticed here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argv, exit, stderr, stdout } from 'node:process';
import { parse } from 'yaml';

const [service, project, port] = argv.slice(2);
if (!service || !project || !port) {
  stderr.write('usage: compose-to-run.mjs SERVICE PROJECT PORT\n');
  exit(2);
}
const compose = parse(readFileSync(join(import.meta.dirname, '..', '..', 'docker', 'compose.yml'), 'utf8'), { merge: true });
const svc = compose.services?.[service];
if (!svc) {
  stderr.write(`compose.yml has no service "${service}"\n`);
  exit(1);
}
// Handled elsewhere: build (images are built first), depends_on and healthcheck (the test waits for
// health itself; the image carries the same HEALTHCHECK), restart (a test fleet should not restart).
const IGNORED = new Set(['build', 'depends_on', 'healthcheck', 'restart']);
const args = ['--detach', '--name', `${project}-${service}`, '--network', `${project}-net`, '--network-alias', service];
for (const [key, value] of Object.entries(svc)) {
  switch (key) {
    case 'image':
    case 'command':
      break;
    case 'hostname':
      args.push('--hostname', String(value));
      break;
    case 'environment':
      for (const [k, v] of Object.entries(value)) args.push('--env', `${k}=${v}`);
      break;
    case 'ports':
      for (const p of value) args.push('--publish', String(p).replace('${CDA_CONTROL_PLANE_PORT:-8080}', port));
      break;
    case 'volumes':
      for (const v of value) args.push('--volume', `${project}-${v}`);
      break;
    case 'stop_grace_period': {
      const m = /^(\d+)s$/.exec(String(value));
      if (!m) throw new Error(`stop_grace_period "${value}" is not in seconds`);
      args.push('--stop-timeout', m[1]);
      break;
    }
    default:
      if (!IGNORED.has(key)) throw new Error(`compose-to-run.mjs does not translate "${key}" (service ${service})`);
  }
}
args.push(svc.image, ...(svc.command ?? []));
stdout.write(args.map((a) => `${a}\0`).join(''));
