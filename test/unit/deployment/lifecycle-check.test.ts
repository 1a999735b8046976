import { describe, expect, it } from 'vitest';
import { checkEventNames, checkEventOrder, checkLifecycleEvents } from '../../../agent/deployment/lifecycle-check.js';
import type { AppSpec, HookScript } from '../../../appspec/model.js';

describe('AllPossibleLifecycleEvents check (docs/reference.md section 4.7)', () => {
  const script: HookScript = {
    location: 's.sh',
    sudo: false,
    timeoutSeconds: 10,
    where: { file: 'appspec.yml', path: 'hooks', line: 1, column: 1 },
  };
  const appspec = (events: string[]): AppSpec => ({
    file: 'appspec.yml',
    version: '0.0',
    os: 'linux',
    hooks: new Map(events.map((e) => [e, [script]])),
    files: [],
    permissions: [],
  });
  const defaults = [
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
  ];

  it('accepts default and listed custom events', () => {
    expect(() =>
      checkLifecycleEvents(
        'appspec.yml',
        appspec(['ApplicationStart', 'CustomEvent']),
        ['ApplicationStart', 'CustomEvent'],
        [...defaults, 'CustomEvent'],
      ),
    ).not.toThrow();
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

describe('the order of codedeploy-local --events (docs/reference.md section 9.2)', () => {
  it.each([
    [
      ['ApplicationStart', 'DownloadBundle'],
      'The only events that can be specified before DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your specified events: ApplicationStart,DownloadBundle',
    ],
    [
      ['Install', 'DownloadBundle'],
      'The only events that can be specified before DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your specified events: Install,DownloadBundle',
    ],
    [
      ['ApplicationStart', 'Install'],
      'The only events that can be specified before Install are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order of your specified events: ApplicationStart,Install',
    ],
    [['BeforeInstall', 'Install'], null],
    [['ApplicationStop', 'DownloadBundle', 'BeforeInstall', 'Install', 'ApplicationStart'], null],
    [['CustomEvent', 'Install'], null],
  ])('%j', (events, message) => {
    if (message === null) expect(() => checkEventOrder(events)).not.toThrow();
    else expect(() => checkEventOrder(events)).toThrow(message);
  });

  it('wants PascalCase event names', () => {
    expect(() => checkEventNames(['DownloadBundle', 'Install', 'CustomEvent'])).not.toThrow();
    expect(() => checkEventNames(['DownloadBundle', 'Install', 'custom'])).toThrow('Received command is not in PascalCase form: custom');
  });
});

describe('unknown lifecycle events get a suggestion', () => {
  it('appends "did you mean" for names close to a possible event, after the official text', () => {
    const events = ['ApplicationStop', 'DownloadBundle', 'BeforeInstall', 'Install', 'AfterInstall', 'ApplicationStart'];
    const hooks = new Map([
      ['afterinstall', []],
      ['Unrelated', []],
    ]);
    expect(() =>
      checkLifecycleEvents(
        'appspec.yml',
        { file: 'appspec.yml', version: '0.0', os: 'linux', hooks, files: [], permissions: [] },
        [],
        events,
      ),
    ).toThrow(
      'appspec.yml file contains unknown lifecycle events: ["afterinstall", "Unrelated"] (afterinstall: did you mean AfterInstall?)',
    );
  });
});
