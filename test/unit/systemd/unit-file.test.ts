/**
 * The shipped host files: systemd/codedeploy-agent.service (its settings, checked against what
 * the daemon does, and `systemd-analyze verify`, which must also reject broken copies),
 * scripts/logrotate/codedeploy-agent (`logrotate -d` accepts it, and a forced run rotates a
 * scripts.log and nothing the agent rotates itself) and conf/codedeployagent.yml (the agent
 * loads it cleanly, with the code's defaults). The external tools are optional: without them
 * those cases are skipped, and the reason is in the test name.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultConfigValues, parseAgentConfig } from '../../../agent/config/agent-config.js';
import { tempDir } from '../../helpers/temp.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..', '..');
const UNIT = join(REPO, 'systemd', 'codedeploy-agent.service');
const LOGROTATE = join(REPO, 'scripts', 'logrotate', 'codedeploy-agent');
const CONF = join(REPO, 'conf', 'codedeployagent.yml');

function which(tool: string): string | undefined {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
}
const systemdAnalyze = which('systemd-analyze');
const logrotate = which('logrotate');

type UnitFile = Map<string, Map<string, string[]>>;

/** systemd's INI dialect, enough for our file: sections, Key=Value (repeatable), comments. */
function parseUnit(text: string): UnitFile {
  const sections: UnitFile = new Map();
  let current: Map<string, string[]> | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq <= 0) throw new Error(`line ${index + 1} is neither a section nor Key=Value: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function value(unit: UnitFile, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** systemd time spans as used in the file: "7260s", "1min", "60". */
function seconds(span: string | undefined): number {
  const m = /^(\d+)\s*(s|sec|min|m|h)?$/.exec(span ?? '');
  if (!m?.[1]) throw new Error(`not a time span: ${String(span)}`);
  const n = Number(m[1]);
  return m[2] === 'min' || m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

describe('systemd/codedeploy-agent.service', () => {
  it('has the settings the daemon relies on', async () => {
    const unit = parseUnit(await readFile(UNIT, 'utf8'));
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);

    // Ordering on the network belongs in [Unit]; the official unit put After= in [Service].
    expect(unit.get('Unit')?.get('After')).toContain('network-online.target');
    expect(unit.get('Unit')?.get('Wants')).toContain('network-online.target');
    expect(unit.get('Service')?.has('After')).toBe(false);

    expect(value(unit, 'Service', 'Type')).toBe('notify');
    // The agent process sends its own datagrams (notify-datagram.ts): only the main process counts.
    expect(value(unit, 'Service', 'NotifyAccess')).toBe('main');
    // A configuration error (exit 78, EX_CONFIG) ends the restart loop; other failures retry.
    expect(value(unit, 'Service', 'RestartPreventExitStatus')).toBe('78');
    expect(seconds(value(unit, 'Service', 'WatchdogSec'))).toBeGreaterThanOrEqual(10);
    expect(value(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(seconds(value(unit, 'Service', 'RestartSec'))).toBeGreaterThan(0);
    expect(value(unit, 'Service', 'WorkingDirectory')).toBe('/opt/codedeploy-agent');
    expect(value(unit, 'Service', 'WorkingDirectory')).toBe(defaultConfigValues().workingDirectory);

    // SIGTERM to the agent only, and systemd waits longer than the agent waits for its hooks
    // plus the grace it gives them after SIGTERM.
    expect(value(unit, 'Service', 'KillMode')).toBe('mixed');
    const d = defaultConfigValues();
    expect(seconds(value(unit, 'Service', 'TimeoutStopSec'))).toBeGreaterThan(d.killAgentMaxWaitTimeSeconds + d.hookKillGraceSeconds);

    // The launcher install.sh writes, started with exec so the agent is the main process.
    const execStart = unit.get('Service')?.get('ExecStart') ?? [];
    expect(execStart).toHaveLength(1);
    expect(execStart[0]).toMatch(/^\/bin\/bash -a -c '/);
    expect(execStart[0]).toContain(
      "; exec /opt/codedeploy-agent/bin/codedeploy-agent start --config_file /etc/codedeploy-agent/conf/codedeployagent.yml'",
    );
    // systemd expands $VAR and %x in ExecStart: the command must not contain either by accident.
    expect(execStart[0]).not.toMatch(/[$%]/);

    // No sandboxing that would break hooks, and nothing in the environment hooks would inherit.
    for (const key of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges', 'ReadOnlyPaths', 'User', 'Environment']) {
      expect(unit.get('Service')?.has(key), key).toBe(false);
    }
    expect(value(unit, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  const verifySkip = systemdAnalyze ? '' : ' (skipped: systemd-analyze is not installed; apt-get install systemd)';
  it.skipIf(!systemdAnalyze)(`passes systemd-analyze verify, and broken copies do not${verifySkip}`, async () => {
    const dir = await tempDir('cda-unit-');
    const text = await readFile(UNIT, 'utf8');
    // verify prints problems it can work around (an unknown key, a bad value) as warnings and
    // still exits 0: a clean result is exit 0 *and* no output.
    const verify = async (content: string): Promise<{ code: number; output: string }> => {
      const file = join(dir, 'codedeploy-agent.service');
      await writeFile(file, content);
      try {
        const { stdout, stderr } = await run(systemdAnalyze ?? 'systemd-analyze', ['verify', file], {
          env: { PATH: process.env.PATH, SYSTEMD_LOG_LEVEL: 'notice', SYSTEMD_LOG_COLOR: '0' },
        });
        return { code: 0, output: (stdout + stderr).trim() };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
      }
    };
    expect(await verify(text)).toEqual({ code: 0, output: '' });

    const broken: Array<[string, string, RegExp]> = [
      ['a misspelt key', text.replace(/^KillMode=/m, 'KilMode='), /Unknown key 'KilMode'/],
      ['a bad value', text.replace(/^Type=notify$/m, 'Type=notfy'), /service type/],
      ['a bad time span', text.replace(/^TimeoutStopSec=.*$/m, 'TimeoutStopSec=2h7q'), /time/],
      ['a misspelt section', text.replace(/^\[Service\]$/m, '[Servce]'), /Unknown section/],
      ['a missing program', text.replace('ExecStart=/bin/bash', 'ExecStart=/bin/no-such-shell'), /no-such-shell/],
    ];
    for (const [what, content, message] of broken) {
      expect(content, what).not.toBe(text);
      const result = await verify(content);
      expect(result.code !== 0 || result.output !== '', what).toBe(true);
      expect(result.output, what).toMatch(message);
    }
  });
});

describe('scripts/logrotate/codedeploy-agent', () => {
  it('covers per-deployment scripts.log only: the agent rotates its own log and the deployments log', async () => {
    const text = await readFile(LOGROTATE, 'utf8');
    const patterns = text
      .split('\n')
      .filter((l) => /^\S.*\{\s*$/.test(l))
      .map((l) => l.replace(/\s*\{\s*$/, ''));
    expect(patterns).toEqual(['/opt/codedeploy-agent/deployment-root/*/*/logs/scripts.log']);
    for (const directive of ['copytruncate', 'missingok', 'notifempty', 'compress'])
      expect(text).toMatch(new RegExp(`^\\s+${directive}$`, 'm'));
  });

  const skip = logrotate ? '' : ' (skipped: logrotate is not installed; apt-get install logrotate)';
  it.skipIf(!logrotate)(`is accepted by logrotate -d, rejects a typo, and a forced run rotates scripts.log${skip}`, async () => {
    const dir = await tempDir('cda-logrotate-');
    const root = join(dir, 'deployment-root');
    const logs = join(root, 'group-1', 'd-ABCDEFGHI', 'logs');
    await mkdir(logs, { recursive: true });
    await mkdir(join(root, 'deployment-logs'), { recursive: true });
    await chmod(root, 0o700);
    await writeFile(join(logs, 'scripts.log'), '2024-05-01 12:00:01 LifecycleEvent - BeforeInstall\n');
    await writeFile(
      join(root, 'deployment-logs', 'codedeploy-agent-deployments.log'),
      '[2024-05-01 12:00:01.123] [d-ABCDEFGHI]LifecycleEvent - BeforeInstall\n',
    );

    const policy = (await readFile(LOGROTATE, 'utf8')).replaceAll('/opt/codedeploy-agent/deployment-root', root);
    const conf = join(dir, 'codedeploy-agent');
    await writeFile(conf, policy, { mode: 0o644 });
    const logrotateRun = async (args: string[]): Promise<{ code: number; output: string }> => {
      try {
        const { stdout, stderr } = await run(logrotate ?? 'logrotate', [...args, '-s', join(dir, `state-${args.join('')}`), conf]);
        return { code: 0, output: stdout + stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      }
    };

    const debug = await logrotateRun(['-d']);
    expect(debug.output).not.toMatch(/^error:/m);
    expect(debug.code).toBe(0);
    expect(debug.output).toContain(`considering log ${join(logs, 'scripts.log')}`);

    // The negative cases: logrotate skips a misspelt directive with an "error:" line but exit 0
    // (so the check above looks at the output too), and a bad value with a failing exit.
    await writeFile(conf, policy.replace(/^(\s+)copytruncate$/m, '$1copytrunc'));
    const typo = await logrotateRun(['-d']);
    expect(typo.output).toMatch(/^error:.*unknown option 'copytrunc'/m);
    await writeFile(conf, policy.replace(/^(\s+)size 64M$/m, '$1size 64Q'));
    const badValue = await logrotateRun(['-d']);
    expect(badValue.output).toMatch(/^error:.*unknown unit 'Q'/m);
    expect(badValue.code).not.toBe(0);

    await writeFile(conf, policy);
    const forced = await logrotateRun(['-f']);
    expect(forced.code, forced.output).toBe(0);
    expect((await readdir(logs)).sort()).toEqual(['scripts.log', 'scripts.log.1.gz']);
    expect((await stat(join(logs, 'scripts.log'))).size).toBe(0);
    expect(await readdir(join(root, 'deployment-logs'))).toEqual(['codedeploy-agent-deployments.log']);
  });
});

describe('conf/codedeployagent.yml', () => {
  it('loads without warnings and says what the code defaults are', async () => {
    const { config, warnings } = parseAgentConfig(await readFile(CONF, 'utf8'), '/etc/codedeploy-agent/conf/codedeployagent.yml');
    expect(warnings).toEqual([]);
    const { source: _source, ...values } = config;
    expect(values).toEqual(defaultConfigValues());
  });
});
