import { describe, expect, it } from 'vitest';
import { formatScriptsLogTime } from '../../../../agent/log/log-time.js';
import { lastLifecycleEvent, localLogTimeToIso, ScriptsLogParser } from '../../../../agent/ops/logs/scripts-log-parser.js';

describe('ScriptsLogParser', () => {
  it('carries the event and script of the lines before to each output line', () => {
    const p = new ScriptsLogParser('d-ABC');
    const lines = [
      '2024-05-01 12:00:01 LifecycleEvent - BeforeInstall',
      '2024-05-01 12:00:01 Script - scripts/before.sh',
      '2024-05-01 12:00:02 [stdout]installing deps',
      '2024-05-01 12:00:03 [stderr]warning: foo\n',
      '2024-05-01 12:00:04 [agent]Sent SIGKILL',
      '2024-05-01 12:00:05 LifecycleEvent - AfterInstall',
      '2024-05-01 12:00:05 [stdout]',
    ].map((l) => p.parse(l));
    expect(lines.map((r) => [r.stream, r.event, r.script, r.message])).toEqual([
      ['event', 'BeforeInstall', null, 'BeforeInstall'],
      ['script', 'BeforeInstall', 'scripts/before.sh', 'scripts/before.sh'],
      ['stdout', 'BeforeInstall', 'scripts/before.sh', 'installing deps'],
      ['stderr', 'BeforeInstall', 'scripts/before.sh', 'warning: foo'],
      ['agent', 'BeforeInstall', 'scripts/before.sh', 'Sent SIGKILL'],
      ['event', 'AfterInstall', null, 'AfterInstall'],
      ['stdout', 'AfterInstall', null, ''],
    ]);
    expect(lines.every((r) => r.deploymentId === 'd-ABC')).toBe(true);
    expect(p.currentEvent).toBe('AfterInstall');
  });

  it('keeps the JSON keys stable and marks lines without a timestamp as raw', () => {
    const r = new ScriptsLogParser('d-1').parse('not a log line');
    expect(Object.keys(r)).toEqual(['time', 'deploymentId', 'event', 'script', 'stream', 'message']);
    expect(r).toMatchObject({ time: null, stream: 'raw', message: 'not a log line' });
  });

  it('keeps a script line that prints a fake prefix as output', () => {
    const p = new ScriptsLogParser('d-1');
    const r = p.parse('2024-05-01 12:00:01 [stdout]2024-05-01 12:00:01 LifecycleEvent - Evil');
    expect(r).toMatchObject({ stream: 'stdout', event: null, message: '2024-05-01 12:00:01 LifecycleEvent - Evil' });
  });

  it('turns the local scripts.log time into the same instant in ISO 8601', () => {
    const d = new Date(2024, 4, 1, 12, 0, 1);
    const text = formatScriptsLogTime(d);
    const r = new ScriptsLogParser('d-1').parse(`${text} [stdout]x`);
    expect(Date.parse(r.time ?? '')).toBe(d.getTime());
    expect(localLogTimeToIso(2024, 5, 1, 12, 0, 1)).toMatch(/^2024-05-01T12:00:01(Z|[+-]\d{2}:\d{2})$/);
  });
});

describe('lastLifecycleEvent', () => {
  it('finds the last real event line and ignores output that mentions one', () => {
    const text = [
      '2024-05-01 12:00:01 LifecycleEvent - BeforeInstall',
      '2024-05-01 12:00:02 LifecycleEvent - AfterInstall',
      '2024-05-01 12:00:03 [stdout]x LifecycleEvent - Fake',
      '',
    ].join('\n');
    expect(lastLifecycleEvent(text)).toBe('AfterInstall');
    expect(lastLifecycleEvent('2024-05-01 12:00:03 [stdout]nothing\n')).toBeUndefined();
    // A tail cut mid-line at the start.
    expect(lastLifecycleEvent('Event - X\n2024-05-01 12:00:09 LifecycleEvent - ApplicationStart')).toBe('ApplicationStart');
  });
});
