import { describe, expect, it } from 'vitest';
import {
  accountEnvironment,
  agentDirectoryGrants,
  nonRootHint,
  resolveAgentAccount,
  sharedDirectoryProblem,
  switchToAccount,
  type AccountLookups,
  type AgentAccount,
  type IdentityCalls,
} from '../../../agent/platform/privileges.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';

const cda = { name: 'cda', uid: 998, gid: 997, home: '/var/lib/cda' };
const lookups: AccountLookups = {
  user: (name) =>
    Promise.resolve(name === 'cda' || name === '998' ? cda : name === 'root' ? { name: 'root', uid: 0, gid: 0, home: '/root' } : undefined),
  group: (name) => Promise.resolve(name === 'deployers' ? 1500 : undefined),
};
const request = { configSource: '/etc/codedeploy-agent/conf/codedeployagent.yml', euid: 0, lookups };

async function configError(p: Promise<unknown>): Promise<AgentError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  expect((err as AgentError).code).toBe(ErrorCodes.CONFIG_INVALID);
  return err as AgentError;
}

describe('resolveAgentAccount', () => {
  it('is nothing to do without :user:, for root, and for the user the agent already is', async () => {
    expect(await resolveAgentAccount({ ...request })).toBeUndefined();
    expect(await resolveAgentAccount({ ...request, user: 'root' })).toBeUndefined();
    expect(await resolveAgentAccount({ ...request, user: 'cda', euid: 998 })).toBeUndefined();
  });

  it('takes the primary group, or :group:', async () => {
    expect(await resolveAgentAccount({ ...request, user: 'cda' })).toEqual({ user: cda, gid: 997 });
    expect(await resolveAgentAccount({ ...request, user: '998', group: 'deployers' })).toEqual({
      user: cda,
      gid: 1500,
      groupName: 'deployers',
    });
  });

  it('fails a missing user with the official message, and a missing group alike', async () => {
    expect((await configError(resolveAgentAccount({ ...request, user: 'ghost' }))).message).toBe('The system user does not exist: ghost');
    expect((await configError(resolveAgentAccount({ ...request, user: 'cda', group: 'nope' }))).message).toBe(
      'The system group does not exist: nope',
    );
  });

  it('refuses a non-root agent asked to become another user, saying what to do', async () => {
    const err = await configError(resolveAgentAccount({ ...request, user: 'cda', euid: 1000 }));
    expect(err.message).toBe(
      ':user: cda in /etc/codedeploy-agent/conf/codedeployagent.yml asks for user cda (uid 998), but the agent runs as uid 1000, not root, and only root can switch users: start the agent as root (it switches to cda after start-up) or remove :user:',
    );
  });
});

describe('the directories a non-root agent takes', () => {
  it('are root_dir (recursive), pid_dir and log_dir with the agent files', () => {
    const grants = agentDirectoryGrants({ rootDir: '/r', pidDir: '/p', logDir: '/l', programName: 'codedeploy-agent' }, { logDir: true });
    expect(grants.map((g) => [g.key, g.dir, g.recursive])).toEqual([
      ['root_dir', '/r', true],
      ['pid_dir', '/p', false],
      ['log_dir', '/l', false],
    ]);
    const own = grants[1]?.files ?? (() => false);
    expect(['codedeploy-agent.pid', 'codedeploy-agent.lock', 'codedeploy-agent.status.json', 'codedeploy-agent.log.3'].every(own)).toBe(
      true,
    );
    expect(['other.pid', 'codedeploy-agentx', 'sshd.pid'].some(own)).toBe(false);
    expect(agentDirectoryGrants({ rootDir: '/r', pidDir: '/p', logDir: '/l', programName: 'x' }, { logDir: false })).toHaveLength(2);
  });

  it.each([
    '/',
    '/var',
    '/tmp',
    '/opt',
    '/var/log',
    '/var/log/',
    '/run',
    '/opt/codedeploy-agent',
    '/etc/codedeploy-agent/conf',
    '/var/log/aws',
  ])('never gives away the shared directory %s', (dir) => {
    expect(sharedDirectoryProblem(dir)).toMatch(/is a directory other programs share$/);
  });

  it.each(['/opt/codedeploy-agent/deployment-root', '/opt/codedeploy-agent/state/.pid', '/var/log/aws/codedeploy-agent', '/srv/cda/root'])(
    'gives %s',
    (dir) => {
      expect(sharedDirectoryProblem(dir)).toBeUndefined();
    },
  );
});

class FakeIds implements IdentityCalls {
  calls: string[] = [];
  ids = { uid: 0, euid: 0, gid: 0, egid: 0 };
  regain = false;
  setgid(id: number): void {
    this.calls.push(`setgid ${id}`);
    this.ids.gid = this.ids.egid = id;
  }
  initgroups(user: string | number, extra: number): void {
    this.calls.push(`initgroups ${user} ${extra}`);
  }
  setuid(id: number): void {
    this.calls.push(`setuid ${id}`);
    if (id === 0 && this.ids.uid !== 0 && !this.regain) throw Object.assign(new Error('EPERM, Operation not permitted'), { code: 'EPERM' });
    this.ids.uid = this.ids.euid = id;
  }
  seteuid(id: number): void {
    this.calls.push(`seteuid ${id}`);
    if (id === 0 && this.ids.uid !== 0 && !this.regain) throw new Error('EPERM');
    this.ids.euid = id;
  }
  getuid = (): number => this.ids.uid;
  geteuid = (): number => this.ids.euid;
  getgid = (): number => this.ids.gid;
  getegid = (): number => this.ids.egid;
}

const account: AgentAccount = { user: cda, gid: 1500, groupName: 'deployers' };

describe('switchToAccount', () => {
  it('calls setgid, initgroups, setuid in that order, then proves root is gone', () => {
    const ids = new FakeIds();
    switchToAccount(account, ids);
    expect(ids.calls).toEqual(['setgid 1500', 'initgroups cda 1500', 'setuid 998', 'setuid 0', 'seteuid 0']);
    expect(ids.ids).toEqual({ uid: 998, euid: 998, gid: 1500, egid: 1500 });
  });

  it('refuses to go on when root can be regained', () => {
    const ids = new FakeIds();
    ids.regain = true;
    expect(() => switchToAccount(account, ids)).toThrow(
      'switched to user cda (uid 998, gid 1500, group deployers), but setuid(0) still succeeds: refusing to run with a way back to root',
    );
  });

  it('names the user when a call fails', () => {
    const ids = new FakeIds();
    ids.setgid = () => {
      throw new Error('EPERM, Operation not permitted');
    };
    expect(() => switchToAccount(account, ids)).toThrow(
      'could not switch to user cda (uid 998, gid 1500, group deployers): EPERM, Operation not permitted',
    );
  });

  it('gives hooks the user HOME, USER and LOGNAME', () => {
    expect(accountEnvironment({ PATH: '/bin', HOME: '/root', USER: 'root' }, account)).toEqual({
      PATH: '/bin',
      HOME: '/var/lib/cda',
      USER: 'cda',
      LOGNAME: 'cda',
    });
  });
});

describe('nonRootHint', () => {
  it('explains a permission error of a non-root agent only', () => {
    expect(nonRootHint('EPERM: operation not permitted, chown', 998)).toContain('the agent runs as uid 998, not root, because of :user:');
    expect(nonRootHint('EACCES: permission denied, open', 998)).toContain('Running the agent as a non-root user');
    expect(nonRootHint('EACCES: permission denied, open', 0)).toBe('');
    expect(nonRootHint('ENOSPC: no space left on device', 998)).toBe('');
  });
});
