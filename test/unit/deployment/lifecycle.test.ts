import { describe, expect, it } from 'vitest';
import {
  allPossibleEventsFor,
  chooseRevisionDir,
  DEFAULT_HOOK_EVENTS,
  eventsToRun,
  hookEventsFor,
  isPascalCase,
  revisionChoice,
} from '../../../agent/deployment/lifecycle.js';
import { diagnosticsPayload } from '../../../agent/commands-client/diagnostics-payload.js';

describe('which revision a hook uses (docs/reference.md section 4.4)', () => {
  it.each([
    ['BeforeBlockTraffic', 'LastSuccessfulOrIgnore', 'MostRecentOrIgnore'],
    ['AfterBlockTraffic', 'LastSuccessfulOrIgnore', 'MostRecentOrIgnore'],
    ['ApplicationStop', 'LastSuccessfulOrIgnore', 'LastSuccessfulOrIgnore'],
    ['BeforeInstall', 'New', 'New'],
    ['AfterInstall', 'New', 'New'],
    ['ApplicationStart', 'New', 'New'],
    ['ValidateService', 'New', 'New'],
    ['BeforeAllowTraffic', 'New', 'LastSuccessfulOrIgnore'],
    ['AfterAllowTraffic', 'New', 'LastSuccessfulOrIgnore'],
    ['CustomEvent', 'New', 'New'],
  ])('%s: normal %s, blue/green rollback %s', (event, normal, rollback) => {
    expect(revisionChoice(event, 'user', 'IN_PLACE')).toBe(normal);
    expect(revisionChoice(event, 'codeDeployRollback', 'IN_PLACE')).toBe(normal);
    expect(revisionChoice(event, 'user', 'BLUE_GREEN')).toBe(normal);
    expect(revisionChoice(event, 'codeDeployRollback', 'BLUE_GREEN')).toBe(rollback);
  });

  it('uses the previous revision only while this deployment has no archive yet', () => {
    const facts = { currentDeploymentDir: '/r/g/d2', lastSuccessfulDir: '/r/g/d1', mostRecentDir: '/r/g/d0' };
    expect(chooseRevisionDir('LastSuccessfulOrIgnore', { ...facts, currentArchiveExists: false })).toBe('/r/g/d1');
    expect(chooseRevisionDir('MostRecentOrIgnore', { ...facts, currentArchiveExists: false })).toBe('/r/g/d0');
    expect(chooseRevisionDir('LastSuccessfulOrIgnore', { ...facts, currentArchiveExists: true })).toBe('/r/g/d2');
    expect(chooseRevisionDir('New', { ...facts, currentArchiveExists: false })).toBe('/r/g/d2');
    expect(chooseRevisionDir('LastSuccessfulOrIgnore', { currentDeploymentDir: '/r/g/d2', currentArchiveExists: false })).toBeUndefined();
  });

  it('checks PascalCase like the official regex (a prefix match)', () => {
    expect(isPascalCase('DownloadBundle')).toBe(true);
    expect(isPascalCase('AfterAllowTestTraffic')).toBe(true);
    expect(isPascalCase('downloadBundle')).toBe(false);
    expect(isPascalCase('')).toBe(false);
  });
});

describe('diagnostics payload', () => {
  it('renders the official key order', () => {
    expect(diagnosticsPayload({ error_code: 0, script_name: '', message: 'Succeeded: ', log: '' })).toBe(
      '{"error_code":0,"script_name":"","message":"Succeeded: ","log":""}',
    );
  });

  it('stays within 8192 characters by dropping the oldest log lines first', () => {
    const log = Array.from({ length: 400 }, (_, i) => `[stdout]line ${i} ${'"'.repeat(20)}\n`).join('');
    const out = diagnosticsPayload({ error_code: 4, script_name: 's.sh', message: 'failed', log });
    expect(out.length).toBeLessThanOrEqual(8192);
    const parsed = JSON.parse(out) as { log: string; message: string };
    expect(parsed.message).toBe('failed');
    expect(parsed.log.endsWith(`[stdout]line 399 ${'"'.repeat(20)}\n`)).toBe(true);
    expect(parsed.log.startsWith('[stdout]line ')).toBe(true);
  });
});

describe('the events a run takes (codedeploy-local --events)', () => {
  it.each([
    [
      undefined,
      [
        'BeforeBlockTraffic',
        'AfterBlockTraffic',
        'ApplicationStop',
        'DownloadBundle',
        'BeforeInstall',
        'Install',
        'AfterInstall',
        'ApplicationStart',
        'ValidateService',
        'BeforeAllowTraffic',
        'AfterAllowTraffic',
      ],
    ],
    [
      [],
      [
        'BeforeBlockTraffic',
        'AfterBlockTraffic',
        'ApplicationStop',
        'DownloadBundle',
        'BeforeInstall',
        'Install',
        'AfterInstall',
        'ApplicationStart',
        'ValidateService',
        'BeforeAllowTraffic',
        'AfterAllowTraffic',
      ],
    ],
    [
      ['DownloadBundle', 'ApplicationStart'],
      ['DownloadBundle', 'Install', 'ApplicationStart'],
    ],
    [
      ['Stop', 'Start', 'HealthCheck'],
      ['DownloadBundle', 'Install', 'Stop', 'Start', 'HealthCheck'],
    ],
    [
      ['ApplicationStart', 'CustomEvent'],
      ['DownloadBundle', 'Install', 'ApplicationStart', 'CustomEvent'],
    ],
    [
      ['BeforeInstall', 'ApplicationStart'],
      ['DownloadBundle', 'BeforeInstall', 'Install', 'ApplicationStart'],
    ],
    [['ApplicationStop'], ['ApplicationStop', 'DownloadBundle', 'Install']],
    [['Install'], ['DownloadBundle', 'Install']],
  ])('runs %j as %j', (requested, expected) => {
    expect(eventsToRun(requested)).toEqual(expected);
  });

  it('maps the nine script events and custom ones, never DownloadBundle or Install', () => {
    expect(hookEventsFor(['DownloadBundle', 'Install', 'ApplicationStart', 'Custom'])).toEqual([...DEFAULT_HOOK_EVENTS, 'Custom']);
  });

  it('lists every default event and the custom ones as possible', () => {
    expect(allPossibleEventsFor(['DownloadBundle', 'Install', 'Custom'])).toEqual([...eventsToRun(undefined), 'Custom']);
  });
});
