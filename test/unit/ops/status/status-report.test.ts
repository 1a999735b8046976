import { describe, expect, it } from 'vitest';
import {
  alignColumns,
  buildStatusReport,
  formatDuration,
  formatStatus,
  type StatusFacts,
} from '../../../../agent/ops/status/status-report.js';
import type { DaemonStatus, DownloadStatus } from '../../../../agent/status/status-file.js';

const NOW = new Date('2024-05-01T12:10:00Z');

const daemon = (over: Partial<DaemonStatus> = {}): DaemonStatus => ({
  schemaVersion: 1,
  state: 'running',
  pid: 4242,
  startedAt: '2024-05-01T12:00:00.000Z',
  updatedAt: '2024-05-01T12:09:00.000Z',
  stoppedAt: null,
  version: '0.1.0',
  identityKind: 'on-premises',
  hostIdentifier: 'arn:aws:iam::123456789012:user/host',
  region: 'us-east-1',
  endpoint: 'https://codedeploy-commands.us-east-1.amazonaws.com',
  commands: [
    {
      deploymentId: 'd-RUN',
      deploymentGroupId: 'dg-1',
      commandName: 'BeforeInstall',
      startedAt: '2024-05-01T12:09:50.000Z',
      event: 'BeforeInstall',
      script: 'scripts/install.sh',
      scriptStartedAt: '2024-05-01T12:09:55.000Z',
    },
  ],
  recent: [
    {
      deploymentId: 'd-OLD',
      deploymentGroupId: 'dg-1',
      commandName: 'ApplicationStart',
      startedAt: '2024-05-01T11:00:00.000Z',
      endedAt: '2024-05-01T11:00:05.000Z',
      status: 'Failed',
      errorCode: 4,
      scriptName: 'scripts/start.sh',
      message: 'Script at specified location: scripts/start.sh failed with exit code 1',
    },
  ],
  ...over,
});

const facts = (over: Partial<StatusFacts> = {}): StatusFacts => ({
  pidFile: '/run/cda/codedeploy-agent.pid',
  statusFile: '/run/cda/codedeploy-agent.status.json',
  pid: { kind: 'pid', pid: 4242, alive: true, isAgent: true },
  status: { kind: 'ok', status: daemon() },
  deployments: [],
  lastEvents: new Map([['dg-1/d-RUN', 'BeforeInstall']]),
  ...over,
});

describe('buildStatusReport', () => {
  it('reports a running daemon with its current command, elapsed times and deployments', () => {
    const r = buildStatusReport(facts(), NOW);
    expect(r).toMatchObject({
      running: true,
      state: 'running',
      pid: 4242,
      uptimeSeconds: 600,
      version: '0.1.0',
      endpoint: daemon().endpoint,
    });
    expect(r.identity).toEqual({ kind: 'on-premises', hostIdentifier: 'arn:aws:iam::123456789012:user/host', region: 'us-east-1' });
    expect(r.currentCommands).toEqual([
      {
        deploymentId: 'd-RUN',
        deploymentGroupId: 'dg-1',
        command: 'BeforeInstall',
        event: 'BeforeInstall',
        script: 'scripts/install.sh',
        startedAt: '2024-05-01T12:09:50.000Z',
        elapsedSeconds: 10,
        scriptElapsedSeconds: 5,
        download: null,
      },
    ]);
    expect(r.deployments.map((d) => [d.deploymentId, d.result, d.lastEvent])).toEqual([
      ['d-RUN', 'InProgress', 'BeforeInstall'],
      ['d-OLD', 'Failed', null],
    ]);
    expect(Object.keys(r)).toEqual([
      'running',
      'state',
      'pid',
      'pidFile',
      'statusFile',
      'startedAt',
      'uptimeSeconds',
      'version',
      'identity',
      'endpoint',
      'currentCommands',
      'deployments',
      'deploymentsReadable',
      'notes',
    ]);
  });

  it('calls a pid file of a dead or foreign process stale, and keeps the history', () => {
    const dead = buildStatusReport(facts({ pid: { kind: 'pid', pid: 4242, alive: false, isAgent: undefined } }), NOW);
    expect(dead).toMatchObject({ running: false, state: 'stale-pid', identity: null, currentCommands: [] });
    expect(dead.notes[0]).toContain('process 4242 does not exist');
    expect(dead.deployments.map((d) => d.result)).toEqual(['Failed']); // the crashed run's command is not shown as running
    const reused = buildStatusReport(facts({ pid: { kind: 'pid', pid: 4242, alive: true, isAgent: false } }), NOW);
    expect(reused.state).toBe('stale-pid');
    expect(reused.notes[0]).toContain('pid was reused');
  });

  it('is not running without a pid file, and ignores a status file of another run', () => {
    expect(buildStatusReport(facts({ pid: { kind: 'missing' } }), NOW)).toMatchObject({ running: false, state: 'not-running', pid: null });
    const other = buildStatusReport(facts({ status: { kind: 'ok', status: daemon({ pid: 1 }) } }), NOW);
    expect(other).toMatchObject({ running: true, identity: null, currentCommands: [] });
    expect(other.notes.join()).toContain('another run of the agent (pid 1)');
  });

  it('says when root_dir cannot be read and still shows the daemon history', () => {
    const r = buildStatusReport(facts({ deployments: { error: 'permission denied reading /opt/root; run with sudo' } }), NOW);
    expect(r.deploymentsReadable).toBe(false);
    expect(r.notes).toContain('deployments under the root directory: permission denied reading /opt/root; run with sudo');
    expect(r.deployments.map((d) => d.deploymentId)).toEqual(['d-RUN', 'd-OLD']);
  });
});

describe('formatStatus', () => {
  it('prints aligned, short text', () => {
    const text = formatStatus(buildStatusReport(facts(), NOW), 'codedeploy-agent');
    const lines = text.split('\n');
    expect(lines[0]).toBe('codedeploy-agent: running (pid 4242, up 10m 0s, version 0.1.0)');
    expect(lines).toContain('  identity  on-premises arn:aws:iam::123456789012:user/host');
    expect(lines).toContain('  command   d-RUN (group dg-1) BeforeInstall: scripts/install.sh, running 5s');
    const header = lines.findIndex((l) => l.startsWith('  GROUP'));
    expect(lines[header]).toMatch(/^ {2}GROUP {2}DEPLOYMENT {2}RESULT {6}LAST {14}UPDATED$/);
    expect(lines[header + 1]).toMatch(/^ {2}dg-1 {3}d-RUN {7}InProgress {2}BeforeInstall {5}\d{4}-/);
    expect(lines[header + 3]).toBe(
      '      scripts/start.sh: Script at specified location: scripts/start.sh failed with exit code 1 (error code 4)',
    );
  });

  it("shows a running DownloadBundle's progress (text and report), with or without a known total", () => {
    const download: DownloadStatus = {
      bytes: 412 * 2 ** 20,
      totalBytes: 1.2 * 2 ** 30,
      percent: 33,
      bytesPerSecond: 85 * 2 ** 20,
      updatedAt: '2024-05-01T12:09:59.000Z',
    };
    const command = (d: DownloadStatus | null) => ({
      deploymentId: 'd-DL',
      deploymentGroupId: 'dg-1',
      commandName: 'DownloadBundle',
      startedAt: '2024-05-01T12:09:30.000Z',
      event: null,
      script: null,
      scriptStartedAt: null,
      download: d,
    });
    const report = buildStatusReport(facts({ status: { kind: 'ok', status: daemon({ commands: [command(download)] }) } }), NOW);
    expect(report.currentCommands[0]).toMatchObject({ command: 'DownloadBundle', event: 'DownloadBundle', download });
    expect(formatStatus(report, 'codedeploy-agent').split('\n')).toContain(
      '  command   d-DL (group dg-1) DownloadBundle: 412.0 MiB of 1.2 GiB (33 %), 85.0 MiB/s, running 30s',
    );
    const chunked: DownloadStatus = { ...download, totalBytes: null, percent: null };
    const text = formatStatus(
      buildStatusReport(facts({ status: { kind: 'ok', status: daemon({ commands: [command(chunked)] }) } }), NOW),
      'x',
    );
    expect(text).toContain('  command   d-DL (group dg-1) DownloadBundle: 412.0 MiB, 85.0 MiB/s, running 30s\n');
    // Between the download and the unpack (no progress): the plain line.
    const plain = formatStatus(
      buildStatusReport(facts({ status: { kind: 'ok', status: daemon({ commands: [command(null)] }) } }), NOW),
      'x',
    );
    expect(plain).toContain('  command   d-DL (group dg-1) DownloadBundle, running 30s\n');
  });

  it('says not running, with the stale pid file', () => {
    const text = formatStatus(
      buildStatusReport(
        facts({ pid: { kind: 'pid', pid: 7, alive: false, isAgent: undefined }, status: { kind: 'missing' }, deployments: [] }),
        NOW,
      ),
      'codedeploy-agent',
    );
    expect(text).toBe(
      'codedeploy-agent: not running (stale pid file /run/cda/codedeploy-agent.pid, pid 7)\n\nNo deployments on this host yet.\nnote: stale pid file /run/cda/codedeploy-agent.pid: process 7 does not exist (the agent did not stop cleanly)\n',
    );
  });

  it('formats durations and columns', () => {
    expect([0, 59, 60, 3599, 3600, 86_400 + 7200].map(formatDuration)).toEqual(['0s', '59s', '1m 0s', '59m 59s', '1h 0m', '1d 2h']);
    expect(
      alignColumns([
        ['a', 'bb', 'c'],
        ['ccc', 'd', 'e'],
      ]),
    ).toEqual(['a    bb  c', 'ccc  d   e']);
  });
});
