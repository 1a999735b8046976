import { describe, expect, it } from 'vitest';
import { chooseRevisionDir, isPascalCase, revisionChoice } from '../../../agent/deployment/lifecycle.js';
import { diagnosticsPayload } from '../../../agent/deployment/diagnostics.js';
import { checkLifecycleEvents } from '../../../agent/deployment/lifecycle-check.js';
import type { AppSpec, HookScript } from '../../../appspec/model.js';

describe('which revision a hook uses (reference 4.4)', () => {
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

describe('AllPossibleLifecycleEvents check (reference 4.7)', () => {
  const script: HookScript = { location: 's.sh', sudo: false, timeoutSeconds: 10, where: { file: 'appspec.yml', path: 'hooks', line: 1, column: 1 } };
  const appspec = (events: string[]): AppSpec => ({
    file: 'appspec.yml',
    version: '0.0',
    os: 'linux',
    hooks: new Map(events.map((e) => [e, [script]])),
    files: [],
    permissions: [],
  });
  const defaults = ['BeforeBlockTraffic', 'AfterBlockTraffic', 'ApplicationStop', 'DownloadBundle', 'BeforeInstall', 'Install', 'AfterInstall', 'ApplicationStart', 'ValidateService', 'BeforeAllowTraffic', 'AfterAllowTraffic'];

  it('accepts default and listed custom events', () => {
    expect(() => checkLifecycleEvents('appspec.yml', appspec(['ApplicationStart', 'CustomEvent']), ['ApplicationStart', 'CustomEvent'], [...defaults, 'CustomEvent'])).not.toThrow();
  });

  it('names unknown events in Ruby array form', () => {
    expect(() => checkLifecycleEvents('appspec.yml', appspec(['UnknownHook', 'Other']), [], defaults)).toThrow(
      'appspec.yml file contains unknown lifecycle events: ["UnknownHook", "Other"]',
    );
  });

  it('names custom events missing from the appspec', () => {
    expect(() => checkLifecycleEvents('appspec.yaml', appspec([]), [], [...defaults, 'CustomA', 'CustomB'])).toThrow(
      "You specified a lifecycle event which is not a default one and doesn't exist in your appspec.yaml file: CustomA,CustomB",
    );
  });
});
