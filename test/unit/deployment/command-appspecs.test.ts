import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWithOverrides } from '../../../agent/config/agent-config.js';
import { AppSpecHandOff, CommandAppSpecs } from '../../../agent/deployment/command-appspecs.js';
import { CommandExecutor } from '../../../agent/deployment/command-executor.js';
import { parseDeploymentSpec, type DeploymentSpec } from '../../../agent/spec/deployment-spec.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

const appspec = (event: string, script: string) => `version: 0.0\nos: linux\nhooks:\n  ${event}:\n    - location: ${script}\n`;

function spec(deploymentId: string, location: string, groupId = 'dg-1'): DeploymentSpec {
  const json = {
    DeploymentId: deploymentId,
    DeploymentGroupId: groupId,
    DeploymentGroupName: 'g',
    ApplicationName: 'a',
    DeploymentCreator: 'user',
    DeploymentType: 'IN_PLACE',
    Revision: { RevisionType: 'Local Directory', LocalRevision: { Location: location, BundleType: 'directory' } },
  };
  return parseDeploymentSpec({ Format: 'TEXT/JSON', Payload: JSON.stringify(json) }, { allowUnsigned: true });
}

describe('CommandAppSpecs', () => {
  it('reads and parses a revision appspec once', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'appspec.yml'), appspec('AfterInstall', 'a.sh'));
    const appspecs = new CommandAppSpecs('appspec.yml');
    const first = await appspecs.load(dir);
    await writeFile(join(dir, 'appspec.yml'), 'not: [an appspec');
    expect(await appspecs.load(dir)).toBe(first);
    expect(first.spec.hooks.get('AfterInstall')?.map((s) => s.location)).toEqual(['a.sh']);
  });

  it('does not keep a failure: the next read tries again', async () => {
    const dir = await tempDir();
    const appspecs = new CommandAppSpecs('appspec.yml');
    await expect(appspecs.load(dir)).rejects.toThrow(/did not find an AppSpec file/);
    await writeFile(join(dir, 'appspec.yml'), appspec('AfterInstall', 'a.sh'));
    expect((await appspecs.load(dir)).name).toBe('appspec.yml');
  });
});

describe('AppSpecHandOff', () => {
  it("gives execute what the same command's isNoop read, once", () => {
    const handOff = new AppSpecHandOff();
    const s = spec('d-1', '/bundle');
    const fromNoop = handOff.begin('AfterInstall', s);
    expect(handOff.take('AfterInstall', s)).toBe(fromNoop);
    expect(handOff.take('AfterInstall', s)).not.toBe(fromNoop);
  });

  it("never gives a command another command's appspecs, nor takes them away", () => {
    const handOff = new AppSpecHandOff();
    const s = spec('d-1', '/bundle');
    const next = handOff.begin('ApplicationStart', s);
    expect(handOff.take('AfterInstall', s)).not.toBe(next);
    expect(handOff.take('ApplicationStart', spec('d-2', '/bundle'))).not.toBe(next);
    expect(handOff.take('ApplicationStart', s)).toBe(next);
  });

  it('keeps one command per deployment group', () => {
    const handOff = new AppSpecHandOff();
    const a = handOff.begin('AfterInstall', spec('d-1', '/b', 'dg-1'));
    const b = handOff.begin('AfterInstall', spec('d-2', '/b', 'dg-2'));
    const replaced = handOff.begin('ApplicationStart', spec('d-1', '/b', 'dg-1'));
    expect(handOff.take('AfterInstall', spec('d-1', '/b', 'dg-1'))).not.toBe(a);
    expect(handOff.take('AfterInstall', spec('d-2', '/b', 'dg-2'))).toBe(b);
    expect(handOff.take('ApplicationStart', spec('d-1', '/b', 'dg-1'))).toBe(replaced);
  });
});

describe('CommandExecutor: one appspec parse per command', () => {
  /** A deployed revision whose AfterInstall hook records which script ran. */
  async function deployed(): Promise<{ executor: CommandExecutor; spec: DeploymentSpec; archiveAppSpec: string; proof: string }> {
    const root = await tempDir('cda-appspec-once-');
    const bundle = join(root, 'bundle');
    const proof = join(root, 'proof');
    await mkdir(bundle);
    await writeFile(join(bundle, 'appspec.yml'), appspec('AfterInstall', 'first.sh'));
    for (const name of ['first', 'second'])
      await writeFile(join(bundle, `${name}.sh`), `#!/bin/sh\necho ${name} >> '${proof}'\n`, { mode: 0o755 });
    const workDir = join(root, 'work');
    await mkdir(workDir);
    const config = configWithOverrides({ rootDir: join(root, 'deployment-root'), workingDirectory: workDir, hookOutputDrainSeconds: 1 });
    const executor = new CommandExecutor({
      config,
      logger: silentLogger(),
      hookMapping: new Map([['AfterInstall', ['AfterInstall']]]),
      baseEnv: { PATH: process.env.PATH },
    });
    const s = spec('d-ONCE00001', bundle);
    expect((await executor.execute('DownloadBundle', s)).status).toBe('Succeeded');
    return { executor, spec: s, archiveAppSpec: join(executor.layout.archiveDir(executor.deploymentDir(s)), 'appspec.yml'), proof };
  }

  it('runs the scripts of the appspec isNoop read', async () => {
    const { executor, spec: s, archiveAppSpec, proof } = await deployed();
    expect(await executor.isNoop('AfterInstall', s)).toBe(false);
    await writeFile(archiveAppSpec, appspec('AfterInstall', 'second.sh'));
    expect((await executor.execute('AfterInstall', s)).status).toBe('Succeeded');
    expect(await readFile(proof, 'utf8')).toBe('first\n');
  });

  it('reads the appspec at execute when isNoop was not asked (codedeploy-local)', async () => {
    const { executor, spec: s, archiveAppSpec, proof } = await deployed();
    await writeFile(archiveAppSpec, appspec('AfterInstall', 'second.sh'));
    expect((await executor.execute('AfterInstall', s)).status).toBe('Succeeded');
    expect(await readFile(proof, 'utf8')).toBe('second\n');
  });
});
