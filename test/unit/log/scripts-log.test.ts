import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDeploymentsLog } from '../../../agent/log/deployments-log.js';
import { createScriptLogWriter, strip } from '../../../agent/log/scripts-log.js';
import { captureLogger, tempDir } from '../../helpers/temp.js';

const fixed = () => new Date(2024, 4, 1, 12, 0, 1, 123);

describe('createScriptLogWriter', () => {
  it('writes the official scripts.log lines and the deployments log lines', async () => {
    const dir = await tempDir();
    const scriptsLogPath = join(dir, 'd-1', 'logs', 'scripts.log');
    const deploymentsLog = createDeploymentsLog({ path: join(dir, 'deployment-logs', 'codedeploy-agent-deployments.log') });
    const log = createScriptLogWriter({ scriptsLogPath, deploymentId: 'd-ABCDEFGHI', deploymentsLog, now: fixed });
    log.lifecycleEvent('BeforeInstall');
    log.script('scripts/before_install.sh');
    log.output('stdout', 'installing deps\n');
    log.output('stderr', '  warning: foo  \n');
    log.output('stdout', 'partial at the end');
    log.note('Script at specified location: x kept\nstdout open');
    await log.close();
    await deploymentsLog.close();
    expect(await readFile(scriptsLogPath, 'utf8')).toBe(
      [
        '2024-05-01 12:00:01 LifecycleEvent - BeforeInstall',
        '2024-05-01 12:00:01 Script - scripts/before_install.sh',
        '2024-05-01 12:00:01 [stdout]installing deps',
        '2024-05-01 12:00:01 [stderr]  warning: foo  ',
        '2024-05-01 12:00:01 [stdout]partial at the end',
        '2024-05-01 12:00:01 [agent]Script at specified location: x kept stdout open',
        '',
      ].join('\n'),
    );
    expect(await readFile(join(dir, 'deployment-logs', 'codedeploy-agent-deployments.log'), 'utf8')).toBe(
      [
        '[2024-05-01 12:00:01.123] [d-ABCDEFGHI]LifecycleEvent - BeforeInstall',
        '[2024-05-01 12:00:01.123] [d-ABCDEFGHI]Script - scripts/before_install.sh',
        '[2024-05-01 12:00:01.123] [d-ABCDEFGHI][stdout]installing deps',
        '[2024-05-01 12:00:01.123] [d-ABCDEFGHI][stderr]  warning: foo',
        '[2024-05-01 12:00:01.123] [d-ABCDEFGHI][stdout]partial at the end',
        '[2024-05-01 12:00:01.123] [d-ABCDEFGHI][agent]Script at specified location: x kept stdout open',
        '',
      ].join('\n'),
    );
  });

  it('appends to an existing scripts.log instead of truncating it', async () => {
    const dir = await tempDir();
    const scriptsLogPath = join(dir, 'logs', 'scripts.log');
    await mkdir(join(dir, 'logs'));
    await writeFile(scriptsLogPath, 'earlier line\n');
    const log = createScriptLogWriter({ scriptsLogPath, deploymentId: 'd-1', now: fixed });
    log.script('a.sh');
    await log.close();
    expect(await readFile(scriptsLogPath, 'utf8')).toBe('earlier line\n2024-05-01 12:00:01 Script - a.sh\n');
  });

  it('applies backpressure: needDrain after a lot of output, waitDrain and flush get it on disk', async () => {
    const dir = await tempDir();
    const scriptsLogPath = join(dir, 'logs', 'scripts.log');
    const log = createScriptLogWriter({ scriptsLogPath, deploymentId: 'd-1', now: fixed });
    const line = `${'x'.repeat(99)}\n`;
    let sawDrain = false;
    for (let i = 0; i < 50_000; i++) {
      log.output('stdout', line);
      if (log.needDrain) {
        sawDrain = true;
        await log.waitDrain();
        expect(log.needDrain).toBe(false);
      }
    }
    expect(sawDrain).toBe(true);
    await log.flush();
    const text = await readFile(scriptsLogPath, 'utf8');
    expect(text.split('\n')).toHaveLength(50_001);
    await log.close();
  });

  it('reports a write error once to the logger and keeps going', async () => {
    const dir = await tempDir();
    const { logger, lines } = captureLogger();
    // The "file" is a directory: open fails.
    await mkdir(join(dir, 'logs', 'scripts.log'), { recursive: true });
    const log = createScriptLogWriter({ scriptsLogPath: join(dir, 'logs', 'scripts.log'), deploymentId: 'd-1', logger });
    log.script('a.sh');
    await log.flush();
    log.output('stdout', 'more\n');
    expect(log.needDrain).toBe(false);
    await log.close();
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain('scripts.log');
  });
});

describe('strip (Ruby String#strip)', () => {
  it.each([
    ['  a b \n', 'a b'],
    ['\0\t x\r\n', 'x'],
    ['plain', 'plain'],
    ['\n', ''],
  ])('strip(%j) = %j', (input, out) => {
    expect(strip(input)).toBe(out);
  });
});
