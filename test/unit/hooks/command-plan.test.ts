import { describe, expect, it } from 'vitest';
import { planCommand } from '../../../agent/hooks/command-plan.js';
import type { PasswdEntry } from '../../../agent/hooks/user-lookup.js';

const deploy: PasswdEntry = { name: 'deploy', uid: 1001, gid: 1002, home: '/home/deploy', shell: '/bin/bash' };
const common = { scriptPath: '/a/deployment-archive/run.sh', location: 'run.sh', setprivPath: '/usr/bin/setpriv' };

describe('planCommand', () => {
  it('runs the script directly without runas (sudo is a no-op for root)', () => {
    expect(planCommand({ ...common, sudo: false, agentUid: 0 })).toEqual({ ok: true, file: common.scriptPath, args: [], env: {} });
    expect(planCommand({ ...common, sudo: true, agentUid: 0 })).toEqual({ ok: true, file: common.scriptPath, args: [], env: {} });
  });

  it('uses setpriv with the user ids and init-groups as root', () => {
    expect(planCommand({ ...common, sudo: false, agentUid: 0, runas: 'deploy', user: deploy })).toEqual({
      ok: true,
      file: '/usr/bin/setpriv',
      args: ['--reuid=1001', '--regid=1002', '--init-groups', '--', common.scriptPath],
      env: { HOME: '/home/deploy', USER: 'deploy', LOGNAME: 'deploy', SHELL: '/bin/bash' },
    });
  });

  it('prefixes sudo -n -- when not root and sudo is true', () => {
    expect(planCommand({ ...common, sudo: true, agentUid: 1000 })).toEqual({
      ok: true,
      file: 'sudo',
      args: ['-n', '--', common.scriptPath],
      env: {},
    });
  });

  it('runs directly when not root and runas is the agent user', () => {
    const plan = planCommand({ ...common, sudo: true, agentUid: 1001, runas: 'deploy', user: deploy });
    expect(plan).toMatchObject({ ok: true, file: common.scriptPath, args: [], env: { USER: 'deploy' } });
  });

  it('refuses another runas user when not root', () => {
    expect(planCommand({ ...common, sudo: false, agentUid: 1000, runas: 'deploy', user: deploy })).toEqual({
      ok: false,
      message:
        'Script at specified location: run.sh run as user deploy failed with error EPERM with message running a script as user deploy requires the agent to run as root,' +
        ' and it runs as uid 1000 (:user: in the agent config, or codedeploy-local without sudo): remove runas from this hook, or run the agent as root',
    });
  });

  it('refuses an unknown user', () => {
    expect(planCommand({ ...common, sudo: false, agentUid: 0, runas: 'ghost' })).toEqual({
      ok: false,
      message:
        'Script at specified location: run.sh run as user ghost failed with error UnknownUser with message no user named ghost exists on this host',
    });
  });
});
