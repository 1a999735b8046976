/**
 * docker/compose.yml against the official compose-spec JSON schema, plus the checks a schema cannot
 * make (three distinct agent identities, loopback-only port, CA volume read-only for agents, build
 * targets that exist), and a small hadolint-like review of the Dockerfiles and shell scripts.
 *
 * The schema is test/fixtures/compose-spec.json, vendored from github.com/compose-spec/compose-spec
 * (see its "$comment"). No JSON-schema validator is a declared dependency, so a minimal draft-07
 * validator lives here: it implements the keywords that schema uses and throws on any other, so a
 * refreshed schema with new keywords fails loudly instead of being half-checked. (With ajv 8 as a
 * devDependency, `validate` below can be swapped for it.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const REPO = join(import.meta.dirname, '..', '..', '..');
const DOCKER = join(REPO, 'docker');
const SCHEMA = JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'compose-spec.json'), 'utf8')) as Schema;

type Schema = { [keyword: string]: unknown };
type Obj = { [key: string]: unknown };

const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'default',
  'deprecated',
  'definitions',
  'format',
  'examples',
]);
const ASSERTIONS = new Set([
  '$ref',
  'type',
  'properties',
  'patternProperties',
  'additionalProperties',
  'required',
  'items',
  'oneOf',
  'anyOf',
  'allOf',
  'enum',
  'const',
  'uniqueItems',
  'minimum',
  'maximum',
  'minLength',
  'minItems',
  'pattern',
]);

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const at = (path: string) => path || '(root)';

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref} (only local references)`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = isObj(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  if (!isObj(node)) throw new Error(`unresolvable $ref ${ref}`);
  return node;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  return typeOf(value) === type;
}

/** Errors of `value` against `schema` (draft-07 subset), each "path: problem". */
function validate(schema: Schema, value: unknown, path = '', root: Schema = schema): string[] {
  for (const keyword of Object.keys(schema)) {
    if (!ANNOTATIONS.has(keyword) && !ASSERTIONS.has(keyword))
      throw new Error(`schema keyword "${keyword}" at ${at(path)} is not implemented by this validator`);
  }
  // draft-07: a $ref replaces its siblings.
  if (typeof schema.$ref === 'string') return validate(resolveRef(root, schema.$ref), value, path, root);
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) return [`${at(path)}: is ${typeOf(value)}, expected ${types.join(' or ')}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => same(e, value)))
    errors.push(`${at(path)}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && !same(schema.const, value)) errors.push(`${at(path)}: must be ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at(path)}: ${value} is below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at(path)}: ${value} is above ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      errors.push(`${at(path)}: "${value}" does not match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength)
      errors.push(`${at(path)}: shorter than ${schema.minLength}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      errors.push(`${at(path)}: fewer than ${schema.minItems} items`);
    if (schema.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length)
      errors.push(`${at(path)}: items are not unique`);
    if (schema.items !== undefined) {
      if (!isObj(schema.items)) throw new Error(`tuple "items" at ${at(path)} is not implemented`);
      value.forEach((item, i) => errors.push(...validate(schema.items as Schema, item, `${path}[${i}]`, root)));
    }
  }
  if (isObj(value)) {
    const props = isObj(schema.properties) ? schema.properties : {};
    const patterns = Object.entries(isObj(schema.patternProperties) ? schema.patternProperties : {}).map(
      ([p, s]) => [new RegExp(p, 'u'), s as Schema] as const,
    );
    for (const name of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
      if (!(name in value)) errors.push(`${at(path)}: "${name}" is required`);
    }
    for (const [key, v] of Object.entries(value)) {
      const child = path ? `${path}.${key}` : key;
      let matched = false;
      if (key in props) {
        matched = true;
        errors.push(...validate(props[key] as Schema, v, child, root));
      }
      for (const [re, s] of patterns) {
        if (!re.test(key)) continue;
        matched = true;
        errors.push(...validate(s, v, child, root));
      }
      if (matched || schema.additionalProperties === undefined || schema.additionalProperties === true) continue;
      if (schema.additionalProperties === false) errors.push(`${at(path)}: "${key}" is not allowed here`);
      else errors.push(...validate(schema.additionalProperties as Schema, v, child, root));
    }
  }
  for (const [keyword, combine] of [
    ['oneOf', (n: number) => n === 1],
    ['anyOf', (n: number) => n >= 1],
    ['allOf', (n: number, total: number) => n === total],
  ] as const) {
    const branches = schema[keyword];
    if (!Array.isArray(branches)) continue;
    const results = (branches as Schema[]).map((b) => validate(b, value, path, root));
    const passing = results.filter((r) => r.length === 0).length;
    if (!combine(passing, branches.length)) {
      errors.push(
        `${at(path)}: ${keyword} failed (${passing} of ${branches.length} alternatives match): ${results.map((r) => r[0] ?? 'ok').join(' | ')}`,
      );
    }
  }
  return errors;
}

function loadCompose(): Obj {
  const doc: unknown = parse(readFileSync(join(DOCKER, 'compose.yml'), 'utf8'), { merge: true });
  if (!isObj(doc)) throw new Error('compose.yml is not a mapping');
  return doc;
}
const obj = (v: unknown, what: string): Obj => {
  if (!isObj(v)) throw new Error(`${what} is not a mapping`);
  return v;
};

describe('the compose-spec validator', () => {
  it('accepts a minimal file and reports precise errors for broken ones', () => {
    expect(validate(SCHEMA, { services: { web: { image: 'x:1', ports: ['127.0.0.1:80:80'] } } })).toEqual([]);
    const errs = (doc: unknown) => validate(SCHEMA, doc).join('\n');
    expect(errs({ servicez: {} })).toContain('"servicez" is not allowed here');
    expect(errs({ services: { web: { imagee: 'x' } } })).toContain('services.web: "imagee" is not allowed here');
    expect(errs({ services: { web: { image: 'x', ports: 8080 } } })).toMatch(/services\.web\.ports: is number, expected array/);
    expect(errs({ services: { web: { image: 'x', depends_on: { db: { condition: 'service_ready' } } } } })).toContain(
      '"service_ready" is not one of',
    );
    expect(errs({ services: { web: { image: 'x', healthcheck: { test: 42 } } } })).toMatch(
      /services\.web\.healthcheck\.test: oneOf failed/,
    );
    expect(errs({ services: { 'bad name!': { image: 'x' } } })).toContain('"bad name!" is not allowed here');
  });

  it('refuses schemas with keywords it does not implement', () => {
    expect(() => validate({ if: { type: 'string' } }, 'x')).toThrow(/keyword "if"/);
  });
});

describe('docker/compose.yml', () => {
  const compose = loadCompose();
  const services = obj(compose.services, 'services');
  const agents = Object.keys(services).filter((name) => name.startsWith('agent-'));

  it('is valid against the compose-spec schema (YAML anchors and merge keys resolved)', () => {
    expect(validate(SCHEMA, compose)).toEqual([]);
  });

  it('has the control plane and three agents with distinct on-premises identities', () => {
    expect(Object.keys(services).sort()).toEqual(['agent-1', 'agent-2', 'agent-3', 'controlplane']);
    const identities = agents.map((name) => {
      const env = obj(obj(services[name], name).environment, `${name}.environment`);
      return [env.CODEDEPLOY_INSTANCE_NAME, env.CODEDEPLOY_IAM_USER_ARN, env.CODEDEPLOY_ACCESS_KEY_ID, env.CODEDEPLOY_SECRET_ACCESS_KEY];
    });
    expect(identities.map((i) => i[0])).toEqual(['host-1', 'host-2', 'host-3']);
    for (let field = 0; field < 4; field++) expect(new Set(identities.map((i) => i[field])).size).toBe(3);
    for (const [name, arn] of identities) expect(arn).toBe(`arn:aws:iam::000000000000:user/${String(name)}`);
  });

  it('publishes the control plane and its load balancer listener on the loopback interface only, and agents wait until it is healthy', () => {
    const cp = obj(services.controlplane, 'controlplane');
    expect(cp.ports).toEqual(['127.0.0.1:${CDA_CONTROL_PLANE_PORT:-8080}:8080', '127.0.0.1:${CDA_LOAD_BALANCER_PORT:-8081}:8081']);
    expect(obj(cp.healthcheck, 'healthcheck').test).toEqual(['CMD', '/usr/local/bin/cda-entrypoint', 'healthcheck']);
    for (const name of agents) {
      const agent = obj(services[name], name);
      expect(agent.ports).toBeUndefined();
      expect(agent.depends_on).toEqual({ controlplane: { condition: 'service_healthy' } });
    }
  });

  it('shares only the CA certificate volume with agents, read-only; the data volume stays with the control plane', () => {
    const cp = obj(services.controlplane, 'controlplane');
    expect(cp.volumes).toEqual(['cp-data:/var/lib/codedeploy-control-plane', 'ca-public:/var/lib/codedeploy-ca-public']);
    for (const name of agents) expect(obj(services[name], name).volumes).toEqual(['ca-public:/etc/codedeploy-agent/ca:ro']);
    expect(Object.keys(obj(compose.volumes, 'volumes')).sort()).toEqual(['ca-public', 'cp-data']);
  });

  it('builds every image from a Dockerfile stage that exists, and gives agents longer to stop than they give hooks', () => {
    const stages = dockerfileStages(readFileSync(join(DOCKER, 'Dockerfile'), 'utf8'));
    for (const [name, svc] of Object.entries(services)) {
      const build = obj(obj(svc, name).build, `${name}.build`);
      expect(existsSync(join(DOCKER, String(build.context), String(build.dockerfile)))).toBe(true);
      expect(stages).toContain(build.target);
    }
    const entrypoint = readFileSync(join(DOCKER, 'entrypoint.sh'), 'utf8');
    const hookWait = Number(/:kill_agent_max_wait_time_seconds: (\d+)/.exec(entrypoint)?.[1]);
    for (const name of agents) expect(Number.parseInt(String(obj(services[name], name).stop_grace_period), 10)).toBeGreaterThan(hookWait);
  });

  it('sets only environment variables the entrypoint reads', () => {
    const entrypoint = readFileSync(join(DOCKER, 'entrypoint.sh'), 'utf8');
    for (const name of agents) {
      for (const key of Object.keys(obj(obj(services[name], name).environment, 'environment'))) expect(entrypoint).toContain(`\${${key}`);
    }
  });
});

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !current)) return;
    const cont = line.endsWith('\\');
    const body = cont ? line.slice(0, -1) : line;
    current = current ? { text: `${current.text} ${body}`, line: current.line } : { text: body, line: i + 1 };
    if (!cont) {
      const m = /^(\S+)\s*(.*)$/.exec(current.text.trim());
      if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2], line: current.line });
      current = undefined;
    }
  });
  return out;
}

function dockerfileStages(text: string): string[] {
  return instructions(text)
    .filter((i) => i.keyword === 'FROM')
    .map((i) => /\sAS\s+(\S+)/i.exec(i.args)?.[1] ?? '');
}

/** A hadolint-like review: the rules that matter for images built offline from local bases. */
function reviewDockerfile(text: string, opts: { localBases: RegExp; contextFiles?: string[] }): string[] {
  const problems: string[] = [];
  const stages: string[] = [];
  let stage = '';
  for (const ins of instructions(text)) {
    const where = `line ${ins.line} (${ins.keyword})`;
    switch (ins.keyword) {
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
        if (!m) {
          problems.push(`${where}: cannot parse "${ins.args}"`);
          break;
        }
        const [, image, name] = m;
        if (!stages.includes(image)) {
          if (!opts.localBases.test(image)) problems.push(`${where}: ${image} is not a local base image (nothing can be pulled)`);
          if (!image.includes(':') || image.endsWith(':latest')) problems.push(`${where}: pin the base image tag (${image})`);
        }
        stage = name ?? '';
        if (stage) stages.push(stage);
        break;
      }
      case 'ADD':
        problems.push(`${where}: use COPY (ADD fetches URLs and unpacks archives implicitly)`);
        break;
      case 'COPY': {
        const from = /--from=(\S+)/.exec(ins.args)?.[1];
        if (from !== undefined && !stages.includes(from)) problems.push(`${where}: --from=${from} is not an earlier stage`);
        if (from === undefined && opts.contextFiles) {
          const sources = ins.args
            .split(/\s+/)
            .filter((a) => !a.startsWith('--'))
            .slice(0, -1);
          for (const src of sources)
            if (!opts.contextFiles.includes(src)) problems.push(`${where}: ${src} is not in docker/build-images.sh's context list`);
        }
        break;
      }
      case 'CMD':
      case 'ENTRYPOINT':
        if (!ins.args.startsWith('[')) problems.push(`${where}: use the JSON (exec) form so signals reach the process`);
        break;
      case 'HEALTHCHECK':
        if (!/\bCMD \[/.test(ins.args)) problems.push(`${where}: use CMD in JSON form`);
        break;
      case 'WORKDIR':
        if (!ins.args.startsWith('/')) problems.push(`${where}: WORKDIR must be absolute`);
        break;
      case 'RUN':
        if (/(^|&&|;)\s*cd\s/.test(ins.args)) problems.push(`${where}: use WORKDIR or absolute paths instead of cd`);
        if (/\b(apt-get|curl|wget)\b/.test(ins.args)) problems.push(`${where}: no network in image builds here`);
        break;
      case 'USER':
        if (/^(root|0)(:|$)/.test(ins.args)) problems.push(`${where}: USER root is the default; say nothing or pick a user`);
        break;
      default:
        break;
    }
  }
  return problems;
}

describe('the Dockerfiles', () => {
  const dockerfile = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const buildImages = readFileSync(join(DOCKER, 'build-images.sh'), 'utf8');
  const contextFiles = /context=\(([^)]*)\)/.exec(buildImages)?.[1].trim().split(/\s+/) ?? [];

  it('docker/Dockerfile passes the review, and copies only what build-images.sh sends', () => {
    expect(contextFiles.length).toBeGreaterThan(5);
    for (const path of contextFiles) expect(existsSync(join(REPO, path)), path).toBe(true);
    expect(reviewDockerfile(dockerfile, { localBases: /^cda-node(-build)?:/, contextFiles })).toEqual([]);
  });

  it('docker/base.Dockerfile passes the review', () => {
    expect(reviewDockerfile(readFileSync(join(DOCKER, 'base.Dockerfile'), 'utf8'), { localBases: /^cda-debian:/ })).toEqual([]);
  });

  it('the review catches what it is for', () => {
    const bad = [
      'FROM node:20',
      'ADD https://example.com/x.tgz /x',
      'COPY --from=nowhere /a /b',
      'RUN cd /x && apt-get install -y git',
      'CMD node x.js',
      'WORKDIR app',
      'USER root',
      'FROM cda-node:bookworm AS ok',
      'COPY secret.txt /',
    ].join('\n');
    const problems = reviewDockerfile(bad, { localBases: /^cda-/, contextFiles: ['agent'] }).join('\n');
    for (const expected of [
      'not a local base image',
      'use COPY',
      '--from=nowhere',
      'instead of cd',
      'no network',
      'JSON (exec) form',
      'must be absolute',
      'USER root',
      'secret.txt is not in',
    ]) {
      expect(problems).toContain(expected);
    }
  });

  it('has an agent stage running as root under tini, and a non-root control-plane stage with a health check', () => {
    expect(dockerfileStages(dockerfile)).toEqual(['build', 'runtime', 'agent', 'control-plane']);
    const byStage = new Map<string, Instruction[]>();
    let stage = '';
    for (const ins of instructions(dockerfile)) {
      if (ins.keyword === 'FROM') stage = dockerfileStages(`FROM ${ins.args}`)[0];
      byStage.set(stage, [...(byStage.get(stage) ?? []), ins]);
    }
    const find = (s: string, k: string) => (byStage.get(s) ?? []).filter((i) => i.keyword === k);
    expect(find('runtime', 'ENTRYPOINT')[0]?.args).toBe('["/usr/bin/tini", "--", "/usr/local/bin/cda-entrypoint"]');
    expect(find('agent', 'USER')).toEqual([]);
    expect(find('control-plane', 'USER').map((i) => i.args)).toEqual(['codedeploy']);
    expect(find('control-plane', 'HEALTHCHECK')).toHaveLength(1);
    expect(find('agent', 'HEALTHCHECK')).toEqual([]);
    // Dev dependencies and npm stay in the build stage.
    expect(find('runtime', 'FROM')[0]?.args).toMatch(/^cda-node:bookworm /);
  });
});

describe('the shell scripts', () => {
  const scripts = [
    ['sh', join(DOCKER, 'entrypoint.sh')],
    ['bash', join(DOCKER, 'build-base.sh')],
    ['bash', join(DOCKER, 'build-images.sh')],
    ['bash', join(DOCKER, 'deploy-sample.sh')],
    ['bash', join(REPO, 'test', 'docker', 'run-docker-test.sh')],
  ] as const;

  it('parse (sh -n / bash -n)', () => {
    for (const [shell, file] of scripts) {
      const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
    }
  });

  const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;
  it.skipIf(!shellcheck)('pass shellcheck (skipped when shellcheck is not installed)', () => {
    const out = (() => {
      try {
        return execFileSync('shellcheck', ['--format=gcc', ...scripts.map(([, f]) => f)], { encoding: 'utf8' });
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? err);
      }
    })();
    expect(out).toBe('');
  });
});
