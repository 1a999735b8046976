/**
 * The control plane's log format: pretty on a terminal, JSON lines otherwise, --log-format wins;
 * checked on the pure choice and through the real CLI (in-process, its stdout captured).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runControlPlaneCli } from '../../../../control-plane/cli/control-plane-command.js';
import { chooseLogFormat, logDestination, useColor } from '../../../../control-plane/cli/log-format.js';
import { tempDir } from '../../../helpers/temp.js';

const LINE = `${JSON.stringify({ level: 30, time: '2026-01-02T03:04:05.678Z', name: 'codedeploy-control-plane', part: 'api', msg: 'hello', deploymentId: 'd-1' })}\n`;

describe('log format choice', () => {
  it.each([
    [undefined, true, 'pretty'],
    [undefined, false, 'json'],
    ['json', true, 'json'],
    ['pretty', false, 'pretty'],
    ['xml', true, undefined],
  ] as const)('--log-format %s with a TTY %s: %s', (flag, tty, expected) => {
    expect(chooseLogFormat(flag, tty)).toBe(expected);
  });

  it('colors only on a terminal without NO_COLOR or TERM=dumb', () => {
    expect(useColor(true, {})).toBe(true);
    expect(useColor(false, {})).toBe(false);
    expect(useColor(true, { NO_COLOR: '1' })).toBe(false);
    expect(useColor(true, { TERM: 'dumb' })).toBe(false);
  });

  it('writes JSON lines as they are, or one readable line each', () => {
    const out: string[] = [];
    logDestination('json', (t) => out.push(t), { colorize: false }).write(LINE);
    expect(out).toEqual([LINE]);
    const pretty: string[] = [];
    logDestination('pretty', (t) => pretty.push(t), { colorize: false }).write(LINE);
    expect(pretty).toHaveLength(1);
    expect(pretty[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: api: hello \{"deploymentId":"d-1"\}\n$/);
    const colored: string[] = [];
    logDestination('pretty', (t) => colored.push(t), { colorize: true }).write(LINE);
    expect(colored[0]).toContain('\u001b[');
  });
});

/** Runs the server CLI until it listens, stops it, and returns what it wrote to stdout. */
async function runServer(args: string[], stdoutIsTTY: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  let stop: (signal: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (stop = resolve));
  const code = await runControlPlaneCli(['--data-dir', join(await tempDir('cda-logfmt-'), 'data'), '--port', '0', ...args], {
    io: { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) },
    env: { NO_COLOR: '1' },
    stopSignal,
    stdoutIsTTY,
    onListening: () => stop('SIGTERM'),
  });
  return { code, stdout, stderr };
}

describe('codedeploy-control-plane logs', () => {
  it('are readable lines on a TTY', async () => {
    const { code, stdout } = await runServer([], true);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Control plane listening on http:\/\/127\.0\.0\.1:\d+ /m);
    expect(stdout).toMatch(/INFO: Stopping \(SIGTERM\)/);
    expect(stdout).not.toMatch(/^\{/m);
  });

  it('are JSON lines when stdout is not a TTY, and with --log-format json on one', async () => {
    for (const [args, tty] of [
      [[], false],
      [['--log-format', 'json'], true],
    ] as const) {
      const { code, stdout } = await runServer([...args], tty);
      expect(code).toBe(0);
      const lines = stdout.trimEnd().split('\n');
      expect(lines.length).toBeGreaterThan(1);
      for (const line of lines) expect(JSON.parse(line)).toHaveProperty('msg');
    }
  });

  it('--log-format pretty applies without a TTY; a bad value is a usage error', async () => {
    const pretty = await runServer(['--log-format', 'pretty'], false);
    expect(pretty.stdout).toMatch(/INFO: Control plane listening/);
    const bad = await runServer(['--log-format', 'xml'], true);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('codedeploy-control-plane: --log-format must be json or pretty, got "xml"\n');
  });
});
