/**
 * The judgements of `codedeploy-agent doctor`, as pure functions of facts the checks gathered:
 * thresholds (disk, clock skew, credential expiry), directory ownership and modes, and the
 * wording of each result and its hint. Kept apart from the I/O so every threshold is unit-tested.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do, for warn and fail; null when there is nothing to do. */
  hint: string | null;
}

export const ok = (name: string, detail: string, hint: string | null = null): CheckResult => ({ name, status: 'ok', detail, hint });
export const warn = (name: string, detail: string, hint: string | null = null): CheckResult => ({ name, status: 'warn', detail, hint });
export const fail = (name: string, detail: string, hint: string | null = null): CheckResult => ({ name, status: 'fail', detail, hint });

const MiB = 1024 * 1024;
export const DISK_FAIL_BYTES = 500 * MiB;
export const DISK_WARN_BYTES = 1024 * MiB;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${(bytes / (1024 * MiB)).toFixed(1)} GiB`;
  return `${Math.floor(bytes / MiB)} MiB`;
}

export function diskSpaceCheck(path: string, freeBytes: number): CheckResult {
  const detail = `${formatBytes(freeBytes)} free for ${path}`;
  const hint = `Bundles are downloaded and unpacked under root_dir, and :max_revisions: revisions are kept per group: free space on that file system or lower :max_revisions:`;
  if (freeBytes < DISK_FAIL_BYTES) return fail('disk', `${detail} (less than ${formatBytes(DISK_FAIL_BYTES)})`, hint);
  if (freeBytes < DISK_WARN_BYTES) return warn('disk', `${detail} (less than ${formatBytes(DISK_WARN_BYTES)})`, hint);
  return ok('disk', detail);
}

export const SKEW_WARN_MS = 60_000;
export const SKEW_FAIL_MS = 5 * 60_000;

/** skewMs: server time minus local time. */
export function clockSkewCheck(skewMs: number, source: string): CheckResult {
  const abs = Math.abs(skewMs);
  const seconds = Math.round(abs / 1000);
  const side = skewMs > 0 ? 'behind' : 'ahead of';
  const detail = abs < 2000 ? `in step with ${source}` : `this host's clock is ${seconds} s ${side} ${source}`;
  const hint =
    'Signed requests are refused when the clock is 15 minutes off. Sync the clock: "timedatectl set-ntp true" ' +
    '(or "chronyc makestep" with chrony running; on EC2 use the Amazon Time Sync Service, 169.254.169.123)';
  if (abs > SKEW_FAIL_MS) return fail('clock', detail, hint);
  if (abs > SKEW_WARN_MS) return warn('clock', detail, hint);
  return ok('clock', detail);
}

export interface DirectoryFacts {
  /** The config key, e.g. "root_dir". */
  key: string;
  path: string;
  /** undefined: it does not exist. */
  stat?: { isDirectory: boolean; mode: number; uid: number };
  /** When it does not exist: whether this user could create it. */
  creatable?: boolean;
  /** The directory must not be readable by other users (root_dir, log_dir). */
  private: boolean;
  /** Why it could not be inspected (permission denied), when it could not. */
  error?: string;
  /** A non-root agent's user (:user:): it may own the directory too (the agent hands it over at start). */
  agentUser?: { uid: number; name: string };
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

export function directoryCheck(f: DirectoryFacts): CheckResult {
  const name = f.key;
  if (f.error) return warn(name, `${f.path}: ${f.error}`, 'Run "sudo codedeploy-agent doctor" to check it');
  if (!f.stat) {
    if (f.creatable) return ok(name, `${f.path} does not exist yet; the agent creates it`);
    return warn(
      name,
      `${f.path} does not exist and this user cannot create it`,
      'The agent runs as root and creates it at start; run doctor with sudo to check as root',
    );
  }
  if (!f.stat.isDirectory) return fail(name, `${f.path} is not a directory`, `Remove it or point :${f.key}: in the config at a directory`);
  const mode = f.stat.mode & 0o777;
  const problems: string[] = [];
  const hints: string[] = [];
  let status: 'ok' | 'warn' | 'fail' = 'ok';
  if (mode & 0o002) {
    status = 'fail';
    problems.push(`is writable by every user (mode ${octal(mode)}): anyone could change what the agent runs or reads`);
    hints.push(`chmod o-w ${f.path}`);
  }
  if (f.private && mode & 0o005) {
    if (status === 'ok') status = 'warn';
    problems.push(`is readable by every user (mode ${octal(mode)}): bundles and logs can hold secrets`);
    hints.push(`chmod o-rwx ${f.path}`);
  }
  const agentUser = f.agentUser;
  if (f.stat.uid !== 0 && f.stat.uid !== agentUser?.uid) {
    if (status === 'ok') status = 'warn';
    problems.push(`is owned by uid ${f.stat.uid}, not ${agentUser ? `root or ${agentUser.name} (:user:)` : 'root'}`);
    hints.push(agentUser ? `chown ${agentUser.name} ${f.path}` : `chown root:root ${f.path}`);
  }
  const ownerName = agentUser && f.stat.uid === agentUser.uid ? agentUser.name : 'root';
  if (status === 'ok') return ok(name, `${f.path} (mode ${octal(mode)}, owner ${ownerName})`);
  const detail = `${f.path} ${problems.join('; ')}`;
  const hint = `Run: ${hints.join(' && ')}`;
  return status === 'fail' ? fail(name, detail, hint) : warn(name, detail, hint);
}

export const S3_PERMISSION_HINT =
  'For S3 revisions the identity also needs s3:GetObject and s3:GetObjectVersion on the revision bucket (and kms:Decrypt for SSE-KMS objects).';

/** Credentials that end at `expiresAt`. */
export function expiryCheck(what: string, expiresAt: Date, now: Date, renewHint: string): CheckResult {
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) return fail('credentials', `${what} expired at ${expiresAt.toISOString()}`, renewHint);
  if (left < 15 * 60_000)
    return warn('credentials', `${what} expire in ${Math.round(left / 60_000)} min (at ${expiresAt.toISOString()})`, renewHint);
  return ok('credentials', `${what}, valid until ${expiresAt.toISOString()}`);
}

/** Parse an expiry value written in a credentials file (ISO 8601 or epoch seconds). */
export function parseExpiry(text: string): Date | undefined {
  const trimmed = text.trim();
  if (/^\d{9,11}$/.test(trimmed)) return new Date(Number(trimmed) * 1000);
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Exit code of doctor: 1 when any check failed. */
export function doctorExitCode(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
