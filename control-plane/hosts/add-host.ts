/**
 * Attaches one host to a running control plane in one step, through its public API only (what an
 * operator with the aws CLI would do): read the region, account and CA from
 * GET /_control-plane/info, RegisterOnPremisesInstance with the IAM user ARN
 * arn:aws:iam::<account>:user/<name>, AddTagsToOnPremisesInstances, then write the agent's files
 * (agent-files.ts). Idempotent: a host already registered with the same ARN is only re-tagged and
 * its files rewritten; another ARN under the name is an error. The directory is checked before
 * anything is registered, so a bad --dir leaves the control plane untouched.
 * Used by `codedeploy-control-plane add-host`, the demo and the test fleets.
 */
import { access, constants, readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import {
  AddTagsToOnPremisesInstancesCommand,
  CodeDeployClient,
  GetOnPremisesInstanceCommand,
  RegisterOnPremisesInstanceCommand,
  type InstanceInfo,
} from '@aws-sdk/client-codedeploy';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { errnoCode, toError } from '../../common/errors.js';
import { makeDirs } from '../../common/file-modes.js';
import { hostLayout, renderAgentConfig, renderOnPremisesConfig, writeAgentFiles, type AgentFiles, type HostLayout } from './agent-files.js';
import { checkHostName, checkTags, HostInputError, type HostTag } from './host-input.js';
import { CONTROL_PLANE_INFO_PATH, type ControlPlaneInfo } from './info-route.js';

export interface AddHostOptions {
  /** Instance name and IAM user name. */
  name: string;
  /** The control plane's URL, e.g. http://127.0.0.1:8080. */
  endpoint: string;
  tags?: readonly HostTag[];
  /** The host directory (absolute): files, and every path the agent writes to. */
  dir: string;
  /** Region for the identity file; default the control plane's. */
  region?: string;
  /** PEM file to trust for an https endpoint; also the agent's :ca_bundle: (default <dir>/ca.pem). */
  caBundle?: string;
  /** Render the files without writing them. */
  print?: boolean;
  /** Agent settings beyond the defaults (the demo and tests poll without idling). */
  agent?: { waitBetweenRunsSeconds?: number; extraLines?: readonly string[] };
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export interface AddHostResult {
  name: string;
  iamUserArn: string;
  region: string;
  /** The control plane's URL, without a trailing slash. */
  endpoint: string;
  /** The name was already registered with this ARN: only tags and files changed. */
  alreadyRegistered: boolean;
  tags: HostTag[];
  layout: HostLayout;
  files: AgentFiles;
  /** False with `print`. */
  written: boolean;
}

/** A failure with a one-line message that says what to do (usage problems are HostInputError). */
export class AddHostError extends Error {}

const SERVICE_CREDENTIALS = { accessKeyId: 'AKIDLOCALADDHOST', secretAccessKey: 'placeholder-the-local-control-plane-accepts-any-key' };
const MAX_INFO_BYTES = 256 * 1024;

export async function addHost(o: AddHostOptions): Promise<AddHostResult> {
  checkHostName(o.name);
  const tags = checkTags(o.tags ?? []);
  const endpoint = checkEndpoint(o.endpoint);
  const ca = o.caBundle === undefined ? undefined : await readCaBundle(o.caBundle);
  const info = await fetchInfo(endpoint, ca, o.timeoutMs ?? 10_000);
  const region = o.region ?? info.region;
  const iamUserArn = `arn:aws:iam::${info.accountId}:user/${o.name}`;
  const layout = hostLayout(o.dir);
  const files: AgentFiles = {
    config: renderAgentConfig({
      layout,
      controlPlaneUrl: endpoint,
      s3Endpoint: info.s3Endpoint,
      caBundle: endpoint.startsWith('https:') ? (o.caBundle ?? layout.caFile) : undefined,
      waitBetweenRunsSeconds: o.agent?.waitBetweenRunsSeconds,
      extraLines: o.agent?.extraLines,
    }),
    onPremises: renderOnPremisesConfig({ region, iamUserArn, name: o.name }),
    caCertificate: info.caCertificate.endsWith('\n') ? info.caCertificate : `${info.caCertificate}\n`,
  };
  if (!o.print) await prepareDir(layout);

  const client = new CodeDeployClient({
    endpoint,
    region,
    credentials: SERVICE_CREDENTIALS,
    maxAttempts: 2,
    ...(ca !== undefined ? { requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }) } : {}),
  });
  let alreadyRegistered;
  try {
    alreadyRegistered = await register(client, o.name, iamUserArn);
    if (tags.length > 0) await client.send(new AddTagsToOnPremisesInstancesCommand({ instanceNames: [o.name], tags }));
  } catch (err) {
    throw apiFailure(err, endpoint);
  } finally {
    client.destroy();
  }

  if (!o.print) {
    try {
      await writeAgentFiles(layout, files);
    } catch (err) {
      throw dirFailure(err, layout.dir);
    }
  }
  return { name: o.name, iamUserArn, region, endpoint, alreadyRegistered, tags, layout, files, written: !o.print };
}

/** True when the name was already registered with this ARN; throws when with another. */
async function register(client: CodeDeployClient, name: string, iamUserArn: string): Promise<boolean> {
  const existing = await getInstance(client, name);
  if (existing) return sameIdentity(existing, name, iamUserArn);
  try {
    await client.send(new RegisterOnPremisesInstanceCommand({ instanceName: name, iamUserArn }));
    return false;
  } catch (err) {
    // Registered by someone else between the two calls: judge what is there now.
    const raced = toError(err).name === 'InstanceNameAlreadyRegisteredException' ? await getInstance(client, name) : undefined;
    if (raced) return sameIdentity(raced, name, iamUserArn);
    throw err;
  }
}

async function getInstance(client: CodeDeployClient, name: string): Promise<InstanceInfo | undefined> {
  try {
    return (await client.send(new GetOnPremisesInstanceCommand({ instanceName: name }))).instanceInfo;
  } catch (err) {
    if (toError(err).name === 'InstanceNotRegisteredException') return undefined;
    throw err;
  }
}

function sameIdentity(instance: InstanceInfo, name: string, iamUserArn: string): true {
  if (instance.deregisterTime !== undefined)
    throw new AddHostError(`the instance name ${name} was deregistered and cannot be registered again: pick another name`);
  const arn = instance.iamUserArn ?? instance.iamSessionArn;
  if (arn !== iamUserArn)
    throw new AddHostError(
      `the instance ${name} is already registered with another identity (${arn ?? 'none'}, not ${iamUserArn}): deregister it first (aws deploy deregister-on-premises-instance --instance-name ${name}) or pick another name`,
    );
  return true;
}

function checkEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HostInputError(`the control plane endpoint ${JSON.stringify(text)} is not a URL: use e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new HostInputError(`the control plane endpoint ${text} must be an http:// or https:// URL`);
  if (url.search || url.hash || url.username || url.password)
    throw new HostInputError(`the control plane endpoint ${text} must be a plain URL without a query, fragment or credentials`);
  return url.href.replace(/\/+$/, '');
}

async function readCaBundle(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new AddHostError(`cannot read the CA bundle ${path} (${errnoCode(err) ?? toError(err).message})`);
  }
}

/** GET /_control-plane/info, bounded in time and size. */
async function fetchInfo(endpoint: string, ca: string | undefined, timeoutMs: number): Promise<ControlPlaneInfo> {
  const url = `${endpoint}${CONTROL_PLANE_INFO_PATH}`;
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { timeout: timeoutMs, ...(ca !== undefined ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_INFO_BYTES)
          req.destroy(new AddHostError(`${url} answered more than ${MAX_INFO_BYTES} bytes: is it a control plane?`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  }).catch((err: unknown) => {
    throw err instanceof AddHostError ? err : unreachable(err, endpoint);
  });
  const notOurs = `${endpoint} does not look like a codedeploy-control-plane`;
  if (status !== 200)
    throw new AddHostError(`${notOurs} (GET ${CONTROL_PLANE_INFO_PATH} answered HTTP ${status}; is it an older version?)`);
  let info: Partial<ControlPlaneInfo>;
  try {
    info = JSON.parse(body) as Partial<ControlPlaneInfo>;
  } catch {
    throw new AddHostError(`${notOurs} (GET ${CONTROL_PLANE_INFO_PATH} did not answer JSON)`);
  }
  if (
    info.service !== 'codedeploy-control-plane' ||
    typeof info.region !== 'string' ||
    typeof info.accountId !== 'string' ||
    typeof info.caCertificate !== 'string' ||
    (info.s3Endpoint !== undefined && typeof info.s3Endpoint !== 'string')
  )
    throw new AddHostError(`${notOurs} (GET ${CONTROL_PLANE_INFO_PATH} lacks region, accountId or caCertificate)`);
  return info as ControlPlaneInfo;
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

function unreachable(err: unknown, endpoint: string): AddHostError {
  const code = errnoCode(err) ?? toError(err).name;
  if (TLS_TRUST_CODES.has(code))
    return new AddHostError(
      `the TLS certificate of ${endpoint} is not trusted (${code}): pass --ca-bundle with the control plane's CA (DATA_DIR/ca/ca.pem)`,
    );
  return new AddHostError(
    `cannot reach the control plane at ${endpoint} (${code === 'Error' ? toError(err).message : code}): it must be running (codedeploy-control-plane), or point --endpoint or CODEDEPLOY_CONTROL_PLANE_URL at it`,
  );
}

function apiFailure(err: unknown, endpoint: string): Error {
  if (err instanceof AddHostError) return err;
  const e = toError(err);
  if (errnoCode(err) !== undefined && !('$metadata' in e)) return unreachable(err, endpoint);
  return new AddHostError(`${endpoint} refused: ${e.name}: ${e.message}`);
}

/** The directory exists (created if needed) and can be written, before anything is registered. */
async function prepareDir(layout: HostLayout): Promise<void> {
  try {
    await makeDirs(layout.dir);
    await access(layout.dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw dirFailure(err, layout.dir);
  }
}

function dirFailure(err: unknown, dir: string): AddHostError {
  const code = errnoCode(err);
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EROFS'
        ? 'read-only file system'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? 'a file is in the way'
          : toError(err).message;
  return new AddHostError(`cannot write the host files to ${dir}: ${why}${code ? ` (${code})` : ''}; pick another --dir`);
}
