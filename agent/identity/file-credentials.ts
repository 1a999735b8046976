/**
 * Refreshing credentials from an INI credentials file (on-premises IAM session mode; docs/reference.md
 * section 2.8): the [default] profile's aws_access_key_id, aws_secret_access_key and
 * aws_session_token. A rotation tool rewrites the file; we re-read it whenever it changed
 * (mtime, size or inode: an atomic rename changes the inode) and at least every refreshSeconds
 * (1800, as the official). The identity carries `expiration` = load time + refreshSeconds, so SDK
 * clients (which refresh about 5 minutes before expiration) come back for fresh keys.
 *
 * The INI is parsed here rather than with fromIni(): fromIni would also honour role_arn,
 * credential_process (running a command named in the file), SSO and web-identity settings and
 * the AWS_PROFILE-style environment, and it caches file contents per path inside the SDK; this
 * file must only ever yield the three static values, read fresh from the named path.
 */
import { readFile, stat } from 'node:fs/promises';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { AgentError, ErrorCodes } from '../errors.js';

export interface FileCredentialsOptions {
  now?: () => number;
  /** Re-read at least this often even if the file looks unchanged. Default 1800. */
  refreshSeconds?: number;
}

interface Loaded {
  identity: AwsCredentialIdentity;
  loadedAt: number;
  signature: string;
}

export function fileCredentialsProvider(path: string, opts: FileCredentialsOptions = {}): AwsCredentialIdentityProvider {
  const now = opts.now ?? Date.now;
  const refreshMs = (opts.refreshSeconds ?? 1800) * 1000;
  let cached: Loaded | undefined;
  let inFlight: Promise<AwsCredentialIdentity> | undefined;

  const failure = (cause?: unknown): AgentError =>
    new AgentError(ErrorCodes.CREDENTIALS, `Failed to load credentials from path ${path}`, { cause, details: { file: path } });

  async function current(force: boolean): Promise<AwsCredentialIdentity> {
    let signature: string;
    try {
      const s = await stat(path, { bigint: true });
      signature = `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (err) {
      throw failure(err);
    }
    if (!force && cached && cached.signature === signature && now() - cached.loadedAt < refreshMs) return cached.identity;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw failure(err);
    }
    const profile = parseIni(text).get('default');
    const accessKeyId = profile?.get('aws_access_key_id');
    const secretAccessKey = profile?.get('aws_secret_access_key');
    if (!accessKeyId || !secretAccessKey) throw failure();
    const loadedAt = now();
    const sessionToken = profile?.get('aws_session_token');
    const identity: AwsCredentialIdentity = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
      expiration: new Date(loadedAt + refreshMs),
    };
    cached = { identity, loadedAt, signature };
    return identity;
  }

  // { forceRefresh: true } (the commands client after an ExpiredToken answer) re-reads the file.
  return (props?: Record<string, unknown>) => {
    inFlight ??= current(props?.forceRefresh === true).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/**
 * Sections of "key = value" lines. Comment lines start with # or ;, indented lines (nested
 * settings or continuations) are skipped, keys are lower-cased, and a " #"/" ;" starts an
 * inline comment (no credential value contains whitespace).
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(line) || /^\s/.test(line)) continue;
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!pair || !current) continue;
    const value = (pair[2] ?? '').replace(/\s+[#;].*$/, '').trim();
    current.set((pair[1] ?? '').trim().toLowerCase(), value);
  }
  return sections;
}
