import { describe, expect, it } from 'vitest';
import { agentUserCheck } from '../../../../agent/ops/doctor/doctor-user.js';
import { directoryCheck } from '../../../../agent/ops/doctor/doctor-rules.js';

const found = { name: 'cda', uid: 998, gid: 997 };
const noNeeds = { deployment: 'd-1', runas: [], owners: [], groups: [], context: false };

describe('doctor: the user check (:user:, :group:)', () => {
  it('fails a missing user or group with the messages start fails with', () => {
    expect(agentUserCheck({ user: 'ghost' })).toMatchObject({ status: 'fail', detail: 'The system user does not exist: ghost' });
    expect(agentUserCheck({ user: 'ghost' }).hint).toContain('useradd --system');
    expect(agentUserCheck({ user: 'cda', group: 'nope', found })).toMatchObject({
      status: 'fail',
      detail: 'The system group does not exist: nope',
    });
  });

  it('warns about :group: without :user:', () => {
    expect(agentUserCheck({ group: 'deployers' })).toMatchObject({
      status: 'warn',
      detail: ':group: deployers is set without :user:; it is ignored and the agent runs as root',
    });
  });

  it('is ok for a user that exists, naming the uid and the gid used', () => {
    expect(agentUserCheck({ user: 'cda', found, needs: noNeeds })).toEqual({
      name: 'user',
      status: 'ok',
      detail: 'the agent starts as root, takes root_dir, log_dir and pid_dir for cda (uid 998, gid 997), then runs as that user',
      hint: null,
    });
    expect(agentUserCheck({ user: 'cda', group: 'deployers', found, groupGid: 1500 }).detail).toContain('cda (uid 998, gid 1500)');
  });

  it('warns when the last appspec needs root: runas others, owners, foreign groups, context', () => {
    const r = agentUserCheck({
      user: 'cda',
      found,
      needs: { deployment: 'd-7', runas: ['cda', 'www-data'], owners: ['root', 'cda'], groups: ['cda', 'adm'], context: true },
    });
    expect(r.status).toBe('warn');
    expect(r.detail).toContain(
      "but the appspec of d-7 needs root: hooks run as www-data (runas); files are given to root (permissions owner); files are given to group adm (permissions group; only the user's own groups work); SELinux contexts are set (permissions context: semanage needs root)",
    );
    expect(r.hint).toContain('run the agent as root (remove :user:)');
  });
});

describe('doctor: directory owners with :user:', () => {
  const dir = (uid: number, agentUser?: { uid: number; name: string }) =>
    directoryCheck({
      key: 'root_dir',
      path: '/d',
      private: true,
      stat: { isDirectory: true, mode: 0o40700, uid },
      ...(agentUser ? { agentUser } : {}),
    });

  it('accepts root or the agent user as owner, and names the owner', () => {
    expect(dir(998, { uid: 998, name: 'cda' })).toMatchObject({ status: 'ok', detail: '/d (mode 0700, owner cda)' });
    expect(dir(0, { uid: 998, name: 'cda' })).toMatchObject({ status: 'ok', detail: '/d (mode 0700, owner root)' });
    expect(dir(998)).toMatchObject({ status: 'warn', hint: 'Run: chown root:root /d' });
  });

  it('warns about a third owner with the chown to the agent user', () => {
    expect(dir(1234, { uid: 998, name: 'cda' })).toMatchObject({
      status: 'warn',
      detail: '/d is owned by uid 1234, not root or cda (:user:)',
      hint: 'Run: chown cda /d',
    });
  });
});
