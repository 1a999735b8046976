/**
 * The deploy-on-push configuration: which deployment groups follow which repository and branch,
 * and the webhook secret. A small YAML (or JSON) file, by default `<dataDir>/push-deployments.yml`:
 *
 *   secret: s3cr3t              # or secretFile: /path/to/file, or env CODEDEPLOY_WEBHOOK_SECRET
 *   follow:
 *     - repository: demo/hello-app
 *       branch: main
 *       applicationName: HelloApp
 *       deploymentGroupName: Staging
 *       deploymentConfigName: CodeDeployDefault.AllAtOnce   # optional; default: the group's
 *
 * parsePushConfig is pure (text in, settings or every problem out, each with the file, line,
 * column and key path, the way appspec/ reports); loadPushConfig adds the file system: it reads
 * the file and the secret file, and falls back to the environment variable for the secret.
 * Unknown keys are errors (a typo such as `brnach` must not silently follow nothing). The secret
 * is never part of an error message or a log line.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { errnoCode } from '../../common/errors.js';
import { isRefName, isValidName } from './local-git.js';

export const PUSH_CONFIG_FILE_NAME = 'push-deployments.yml';
export const SECRET_ENV = 'CODEDEPLOY_WEBHOOK_SECRET';

const TOP_KEYS = ['secret', 'secretFile', 'follow'] as const;
const FOLLOW_KEYS = ['repository', 'branch', 'applicationName', 'deploymentGroupName', 'deploymentConfigName'] as const;
const NAME_MAX = 100;
/** Larger than any sensible configuration; the file is read whole. */
const FILE_MAX_BYTES = 1024 * 1024;
const SECRET_FILE_MAX_BYTES = 64 * 1024;

export interface FollowRule {
  /** "owner/repo" */
  repository: string;
  branch: string;
  applicationName: string;
  deploymentGroupName: string;
  deploymentConfigName?: string;
}

export interface PushSettings {
  secret?: string;
  /** Absolute (a relative path in the file is taken from the file's folder). */
  secretFile?: string;
  follow: FollowRule[];
}

export interface PushConfig {
  file: string;
  secret: string;
  follow: FollowRule[];
}

export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Key path such as `follow[1].branch`; '' for the whole file. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; settings: PushSettings } | { ok: false; issues: ConfigIssue[] };

/** `file:line:column: path: message`, the one-line form of an issue. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/** A configuration that cannot be used; the message lists every issue, one per line. */
export class PushConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`deploy-on-push configuration ${file} is invalid:\n${issues.map((i) => `  ${formatConfigIssue(i)}`).join('\n')}`);
    this.name = 'PushConfigError';
  }
}

export function parsePushConfig(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const issue = (offset: number, path: string, message: string): void => {
    const pos = lineCounter.linePos(offset);
    issues.push({ file, line: pos.line, column: pos.col, path, message });
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) issue(e.pos[0], '', `not valid YAML: ${e.message.split('\n', 1)[0] ?? ''}`);
    return { ok: false, issues };
  }
  const root = doc.contents;
  if (!isMap(root)) {
    issue(root?.range?.[0] ?? 0, '', 'expected a mapping with secret (or secretFile) and follow');
    return { ok: false, issues };
  }
  const top = entries(root, '', TOP_KEYS, issue);
  const settings: PushSettings = { follow: [] };

  const secret = top.get('secret');
  const secretFile = top.get('secretFile');
  if (secret) settings.secret = stringValue(secret, 'secret', issue, { secret: true });
  if (secretFile) {
    const path = stringValue(secretFile, 'secretFile', issue);
    if (path !== undefined) settings.secretFile = resolve(dirname(file), path);
  }
  if (secret && secretFile) issue(secretFile.offset, 'secretFile', 'give secret or secretFile, not both');

  const follow = top.get('follow');
  if (follow && !(isScalar(follow.node) && follow.node.value === null)) {
    if (!isSeq(follow.node))
      issue(follow.offset, 'follow', 'expected a list of {repository, branch, applicationName, deploymentGroupName}');
    else {
      const seen = new Map<string, string>();
      follow.node.items.forEach((item, index) => {
        const path = `follow[${index}]`;
        const offset = (item as Node | null)?.range?.[0] ?? follow.offset;
        if (!isMap(item)) return issue(offset, path, 'expected a mapping with repository, branch, applicationName and deploymentGroupName');
        const rule = followRule(item, path, offset, issue);
        if (!rule) return;
        const key = [rule.repository.toLowerCase(), rule.branch, rule.applicationName, rule.deploymentGroupName].join('\0');
        const first = seen.get(key);
        if (first !== undefined) return issue(offset, path, `the same repository, branch and deployment group as ${first}`);
        seen.set(key, path);
        settings.follow.push(rule);
      });
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, settings };
}

type Issue = (offset: number, path: string, message: string) => void;
interface Entry {
  node: Node | null;
  offset: number;
}

/** The map's entries by key; unknown or non-string keys are issues. */
function entries(map: YAMLMap, path: string, known: readonly string[], issue: Issue): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null;
    const keyOffset = keyNode?.range?.[0] ?? map.range?.[0] ?? 0;
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    const at = key === undefined ? path : path === '' ? key : `${path}.${key}`;
    if (key === undefined || !known.includes(key)) {
      issue(keyOffset, at, `unknown key${key === undefined ? '' : ` "${key}"`}; the keys here are ${known.join(', ')}`);
      continue;
    }
    const value = pair.value as Node | null;
    out.set(key, { node: value, offset: value?.range?.[0] ?? keyOffset });
  }
  return out;
}

/** A non-empty string value (numbers are refused: a branch named 1 must be written "1"). */
function stringValue(entry: Entry, path: string, issue: Issue, o: { secret?: boolean } = {}): string | undefined {
  const value = isScalar(entry.node) ? entry.node.value : undefined;
  if (typeof value !== 'string' || value === '') {
    // The secret's value is never echoed, even when it is of the wrong type.
    const shown = o.secret || value === undefined || value === null ? '' : ` (got ${JSON.stringify(value)})`;
    issue(entry.offset, path, `expected a non-empty string${shown}`);
    return undefined;
  }
  return value;
}

function followRule(map: YAMLMap, path: string, offset: number, report: Issue): FollowRule | undefined {
  // A rule is kept only when reading it raised no issue.
  let problems = 0;
  const issue: Issue = (at, key, message) => {
    problems++;
    report(at, key, message);
  };
  const keys = entries(map, path, FOLLOW_KEYS, issue);
  const field = (key: (typeof FOLLOW_KEYS)[number], required: boolean, check?: (v: string) => string | undefined) => {
    const entry = keys.get(key);
    if (!entry) {
      if (required) issue(offset, `${path}.${key}`, 'missing; required');
      return undefined;
    }
    const value = stringValue(entry, `${path}.${key}`, issue);
    if (value === undefined) return undefined;
    const problem = check?.(value);
    if (problem) issue(entry.offset, `${path}.${key}`, problem);
    return problem ? undefined : value;
  };
  const name = (v: string) => (v.length > NAME_MAX ? `longer than ${NAME_MAX} characters` : undefined);
  const repository = field('repository', true, (v) => {
    const [owner = '', repo = '', ...more] = v.split('/');
    return more.length === 0 && isValidName(owner) && isValidName(repo) ? undefined : `"${v}" is not owner/repo (letters, digits, _ . -)`;
  });
  const branch = field('branch', true, (v) =>
    v.startsWith('refs/')
      ? 'a branch name such as main, without refs/heads/'
      : isRefName(v)
        ? undefined
        : `"${v}" is not a valid branch name`,
  );
  const applicationName = field('applicationName', true, name);
  const deploymentGroupName = field('deploymentGroupName', true, name);
  const deploymentConfigName = field('deploymentConfigName', false, name);
  if (problems > 0 || !repository || !branch || !applicationName || !deploymentGroupName) return undefined;
  return { repository, branch, applicationName, deploymentGroupName, ...(deploymentConfigName ? { deploymentConfigName } : {}) };
}

export interface LoadOptions {
  env: NodeJS.ProcessEnv;
}

/**
 * The configuration in `file`, with its secret resolved; undefined when the file does not exist
 * (deploy-on-push is off). Throws PushConfigError for anything else that is wrong.
 */
export async function loadPushConfig(file: string, o: LoadOptions): Promise<PushConfig | undefined> {
  let text: string;
  try {
    const data = await readFile(file);
    if (data.length > FILE_MAX_BYTES) throw wholeFile(file, `larger than ${FILE_MAX_BYTES} bytes`);
    text = data.toString('utf8');
  } catch (err) {
    if (err instanceof PushConfigError) throw err;
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw wholeFile(file, `cannot be read: ${(err as Error).message}`);
  }
  const parsed = parsePushConfig(text, file);
  if (!parsed.ok) throw new PushConfigError(file, parsed.issues);
  const { settings } = parsed;
  let secret = settings.secret;
  if (settings.secretFile !== undefined) secret = await readSecretFile(file, settings.secretFile);
  secret ??= o.env[SECRET_ENV] || undefined;
  if (secret === undefined) {
    throw wholeFile(file, `no webhook secret: add "secret:" or "secretFile:", or set the ${SECRET_ENV} environment variable`);
  }
  return { file, secret, follow: settings.follow };
}

async function readSecretFile(file: string, secretFile: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(secretFile);
  } catch (err) {
    throw wholeFile(file, `secretFile ${secretFile} cannot be read: ${(err as Error).message}`);
  }
  if (data.length > SECRET_FILE_MAX_BYTES) throw wholeFile(file, `secretFile ${secretFile} is larger than ${SECRET_FILE_MAX_BYTES} bytes`);
  const secret = data.toString('utf8').replace(/\r?\n$/, '');
  if (secret === '') throw wholeFile(file, `secretFile ${secretFile} is empty`);
  return secret;
}

function wholeFile(file: string, message: string): PushConfigError {
  return new PushConfigError(file, [{ file, line: 1, column: 1, path: '', message }]);
}
