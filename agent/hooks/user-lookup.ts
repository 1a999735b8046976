/**
 * Resolves an appspec `runas` user through NSS (`getent passwd <name>`, argv, no shell), so LDAP
 * and sssd users work like local ones. Without getent, /etc/passwd is read.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { errnoCode } from '../../common/errors.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export type UserLookup = (name: string) => Promise<PasswdEntry | undefined>;

/** A user name we pass to getent and setpriv: no option look-alikes, separators or control characters. */
export function isValidUserName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && name.length <= 256 && !name.startsWith('-') && !/[:\s/\x00-\x1f\x7f]/.test(name);
}

/** One line of passwd(5): name:password:uid:gid:gecos:home:shell. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const f = line.replace(/\r?\n$/, '').split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '') return undefined;
  return { name: f[0] ?? '', uid, gid, home: f[5] ?? '', shell: f[6] ?? '' };
}

export const lookupUser: UserLookup = async (name) => {
  if (!isValidUserName(name)) return undefined;
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('getent', ['passwd', name], { timeout: 10_000, encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(out)));
    });
    return parsePasswdLine(stdout.split('\n')[0] ?? '');
  } catch (err) {
    // getent exits 2 for "not found"; only a missing getent falls back to the file.
    if (errnoCode(err) !== 'ENOENT') return undefined;
  }
  const text = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const entry = parsePasswdLine(line);
    if (entry && (entry.name === name || String(entry.uid) === name)) return entry;
  }
  return undefined;
};
