import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { configWithOverrides } from '../../../agent/config/agent-config.js';
import { CommandExecutor } from '../../../agent/deployment/command-executor.js';
import type { MemoryTrimmer } from '../../../agent/platform/memory-trimmer.js';
import { parseDeploymentSpec } from '../../../agent/spec/deployment-spec.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

it('trims memory around DownloadBundle and Install, not around hooks', async () => {
  const root = await tempDir('cda-trim-');
  const bundle = join(root, 'bundle');
  await mkdir(join(bundle, 'app'), { recursive: true });
  await writeFile(join(bundle, 'app', 'a.txt'), 'a\n');
  await writeFile(join(bundle, 'hook.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  await writeFile(
    join(bundle, 'appspec.yml'),
    `version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: ${join(root, 'dest')}\nhooks:\n  AfterInstall:\n    - location: hook.sh\n`,
  );
  const workDir = join(root, 'work');
  await mkdir(workDir);
  const phases: string[] = [];
  const memoryTrimmer: MemoryTrimmer = {
    async during(work) {
      try {
        return await work();
      } finally {
        phases.push('trimmed');
      }
    },
  };
  const executor = new CommandExecutor({
    config: configWithOverrides({ rootDir: join(root, 'deployment-root'), workingDirectory: workDir, hookOutputDrainSeconds: 1 }),
    logger: silentLogger(),
    hookMapping: new Map([['AfterInstall', ['AfterInstall']]]),
    baseEnv: { PATH: process.env.PATH },
    memoryTrimmer,
  });
  const spec = parseDeploymentSpec(
    {
      Format: 'TEXT/JSON',
      Payload: JSON.stringify({
        DeploymentId: 'd-TRIM00001',
        DeploymentGroupId: 'dg-1',
        DeploymentGroupName: 'g',
        ApplicationName: 'a',
        DeploymentCreator: 'user',
        DeploymentType: 'IN_PLACE',
        Revision: { RevisionType: 'Local Directory', LocalRevision: { Location: bundle, BundleType: 'directory' } },
      }),
    },
    { allowUnsigned: true },
  );
  for (const command of ['DownloadBundle', 'Install', 'AfterInstall']) {
    const outcome = await executor.execute(command, spec);
    expect(outcome.status, `${command}: ${outcome.diagnostics.message}`).toBe('Succeeded');
    phases.push(`${command} done`);
  }
  expect(phases).toEqual(['trimmed', 'DownloadBundle done', 'trimmed', 'Install done', 'AfterInstall done']);
});
