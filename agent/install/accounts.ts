/**
 * User and group names to ids, through `getent passwd|group <name>` (so NSS sources such as LDAP
 * count, like Ruby's Etc.getpwnam), cached for the duration of one install.
 */
import type { ToolRunner } from '../platform/tool-runner.js';

export interface AccountLookup {
  /** The uid of a user name, or undefined when there is no such user. */
  uid(name: string): Promise<number | undefined>;
  /** The gid of a group name, or undefined when there is no such group. */
  gid(name: string): Promise<number | undefined>;
}

export function createAccountLookup(tools: ToolRunner): AccountLookup {
  const cache = new Map<string, Promise<number | undefined>>();
  const lookup = (database: 'passwd' | 'group', name: string): Promise<number | undefined> => {
    if (name.length === 0) return Promise.resolve(undefined);
    const key = `${database}:${name}`;
    let found = cache.get(key);
    if (!found) {
      found = tools.run('getent', [database, '--', name]).then((result) => {
        if (result.exitCode !== 0) return undefined;
        // name:password:id:... ; the first line is the match.
        const id = Number((result.stdout.split('\n')[0] ?? '').split(':')[2]);
        return Number.isInteger(id) && id >= 0 ? id : undefined;
      });
      cache.set(key, found);
    }
    return found;
  };
  return {
    uid: (name) => lookup('passwd', name),
    gid: (name) => lookup('group', name),
  };
}
