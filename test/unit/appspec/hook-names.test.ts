import { describe, expect, it } from 'vitest';
import { editDistance, hookNameWarnings, parseAppSpec, suggestHookName } from '../../../appspec/index.js';

const EVENTS = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'BeforeInstall',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
];

describe('suggestHookName', () => {
  it.each([
    ['AfterInstal', 'AfterInstall'],
    ['afterinstall', 'AfterInstall'],
    ['AFTERINSTALL', 'AfterInstall'],
    ['AfterIntsall', 'AfterInstall'],
    ['BeforeInstal', 'BeforeInstall'],
    ['ApplicatonStart', 'ApplicationStart'],
    ['ValidateServices', 'ValidateService'],
    ['BeforeAllowTrafic', 'BeforeAllowTraffic'],
  ])('%s -> %s', (name, suggestion) => {
    expect(suggestHookName(name, EVENTS)).toBe(suggestion);
  });

  it.each(['DeployDatabase', 'Start', 'Install', 'DownloadBundle', 'X', ''])('no suggestion for %j', (name) => {
    expect(suggestHookName(name, EVENTS)).toBeUndefined();
  });

  it('no suggestion for a known name', () => {
    expect(suggestHookName('AfterInstall', EVENTS)).toBeUndefined();
  });

  it('prefers the closest name', () => {
    expect(suggestHookName('BeforeInstalll', [...EVENTS, 'BeforeInstalls'])).toBe('BeforeInstall');
  });

  it('edit distance counts insertions, deletions, substitutions and neighbour swaps', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('install', 'intsall')).toBe(1);
  });
});

describe('hookNameWarnings', () => {
  it('warns at the event with a suggestion; known and far names are handled apart', () => {
    const parsed = parseAppSpec(
      [
        'version: 0.0',
        'os: linux',
        'hooks:',
        '  AfterInstall:',
        '    - location: a.sh',
        '  AfterInstal:',
        '    - location: b.sh',
        '  DeployDatabase:',
        '    - location: c.sh',
        '  Install:',
        '    - location: d.sh',
        '',
      ].join('\n'),
      'appspec.yml',
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const issues = hookNameWarnings(parsed.spec, EVENTS, ['DownloadBundle', 'Install']);
    expect(issues.map((i) => [i.path, i.line, i.message])).toEqual([
      [
        'hooks.AfterInstal',
        7,
        "Hook 'AfterInstal' is not a lifecycle event (did you mean AfterInstall?). A deployment from CodeDeploy fails on it at Install; codedeploy-local runs it as a custom event only when it is named with --events AfterInstal",
      ],
      [
        'hooks.DeployDatabase',
        9,
        "Hook 'DeployDatabase' is not a lifecycle event. A deployment from CodeDeploy fails on it at Install; codedeploy-local runs it as a custom event only when it is named with --events DeployDatabase",
      ],
      [
        'hooks.Install',
        11,
        "Hook 'Install' never runs: Install is a step of the agent, not a hook event. Put its scripts under BeforeInstall or AfterInstall",
      ],
    ]);
  });
});
