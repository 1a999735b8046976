import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../agent/cli/validate.js';
import { loadAppSpec } from '../../../agent/deployment/appspec-loader.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { findScript } from '../../../agent/hooks/script-path.js';
import { checkSources } from '../../../agent/install/fs-facts.js';
import { resolveMappings } from '../../../agent/install/mappings.js';
import { tempDir } from '../../helpers/temp.js';

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runValidate(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const APPSPEC = `version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/app
hooks:
  ApplicationStart:
    - location: scripts/start.sh
      timeout: 60
`;

/** A bundle directory: the appspec plus files (path -> [content, mode]). */
async function bundle(appspec: string | undefined, files: Record<string, [string, number]> = {}, name = 'appspec.yml'): Promise<string> {
  const dir = join(await tempDir(), 'bundle');
  await mkdir(dir);
  if (appspec !== undefined) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), appspec);
  }
  for (const [path, [content, mode]] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
    await chmod(join(dir, path), mode);
  }
  return dir;
}

const GOOD_FILES: Record<string, [string, number]> = {
  'scripts/start.sh': ['#!/bin/sh\nexit 0\n', 0o755],
  'app/index.html': ['<h1>hi</h1>\n', 0o644],
};

describe('codedeploy-agent validate', () => {
  it('accepts a valid bundle: exit 0 and a summary', async () => {
    const dir = await bundle(APPSPEC, GOOD_FILES);
    const { code, stdout, stderr } = await run(dir);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toBe(`${join(dir, 'appspec.yml')}: valid (0 errors, 0 warnings)\n`);
  });

  it('reports a missing script with the location of its hooks entry: exit 1', async () => {
    const dir = await bundle(APPSPEC, { 'app/index.html': ['x', 0o644] });
    const { code, stdout } = await run(dir);
    expect(code).toBe(1);
    const file = join(dir, 'appspec.yml');
    expect(stdout.split('\n')).toEqual([
      `error: Script does not exist at specified location: ${join(dir, 'scripts/start.sh')} (at ${file}:8:7, hooks.ApplicationStart[0])`,
      `${file}: invalid (1 error, 0 warnings)`,
      '',
    ]);
  });

  it('rejects a script that escapes the bundle through ../', async () => {
    const dir = await bundle(APPSPEC.replace('scripts/start.sh', '../outside.sh'), GOOD_FILES);
    await writeFile(join(dir, '..', 'outside.sh'), '#!/bin/sh\n', { mode: 0o755 });
    const { code, stdout } = await run(dir);
    expect(code).toBe(1);
    expect(stdout).toContain(
      `error: Script at specified location: ../outside.sh resolves outside the bundle directory (${join(dir, '..', 'outside.sh')})`,
    );
    expect(stdout).toContain('hooks.ApplicationStart[0])');
  });

  it('rejects a script that escapes the bundle through a symlink', async () => {
    const dir = await bundle(APPSPEC, { 'app/index.html': ['x', 0o644] });
    const outside = join(dir, '..', 'evil.sh');
    await writeFile(outside, '#!/bin/sh\n', { mode: 0o755 });
    await mkdir(join(dir, 'scripts'));
    await symlink(outside, join(dir, 'scripts/start.sh'));
    const { code, stdout } = await run(dir);
    expect(code).toBe(1);
    expect(stdout).toContain('error: Script at specified location: scripts/start.sh resolves outside the bundle directory');
  });

  it('follows a symlink that stays inside the bundle; a leading "/" is bundle-relative', async () => {
    const dir = await bundle(APPSPEC.replace('scripts/start.sh', '/scripts/link.sh'), GOOD_FILES);
    await symlink('start.sh', join(dir, 'scripts/link.sh'));
    const { code } = await run(dir);
    expect(code).toBe(0);
  });

  it('warns about a script that is not executable but exits 0', async () => {
    const dir = await bundle(APPSPEC, { ...GOOD_FILES, 'scripts/start.sh': ['#!/bin/sh\n', 0o644] });
    const { code, stdout } = await run(dir);
    expect(code).toBe(0);
    const file = join(dir, 'appspec.yml');
    expect(stdout.split('\n')).toEqual([
      `warning: Script at specified location: scripts/start.sh is not executable; the agent will make it executable (chmod +x) at run time (at ${file}:8:7, hooks.ApplicationStart[0])`,
      `${file}: valid (0 errors, 1 warning)`,
      '',
    ]);
  });

  it('reports files sources that are missing or leave the bundle', async () => {
    const spec = `version: 0.0
os: linux
files:
  - source: missing
    destination: /a
  - source: ../etc
    destination: /b
  - source: through/secret
    destination: /c
  - source: /
    destination: /d
  - source: linked
    destination: /e
`;
    const dir = await bundle(spec);
    const outside = join(dir, '..', 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'x');
    await symlink(outside, join(dir, 'through'));
    // A source that is itself a symlink is installed as a link (never read through), as the agent does.
    await symlink('/etc', join(dir, 'linked'));
    const { code, stdout } = await run(dir);
    expect(code).toBe(1);
    const file = join(dir, 'appspec.yml');
    expect(stdout.split('\n')).toEqual([
      `error: The files source missing does not exist in the bundle (${join(dir, 'missing')}) (at ${file}:4:5, files[0])`,
      `error: The files source ../etc resolves outside the bundle directory (${join(dir, '..', 'etc')}) (at ${file}:6:5, files[1])`,
      `error: The files source through/secret resolves outside the bundle directory (${join(outside, 'secret')}) (at ${file}:8:5, files[2])`,
      `${file}: invalid (3 errors, 0 warnings)`,
      '',
    ]);
  });

  it('prints every appspec problem with its location', async () => {
    const dir = await bundle('version: 1\nos: linux\nhooks:\n  BeforeInstall:\n    - timeout: 0\nhook: x\n');
    const { code, stdout } = await run(dir);
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/The deployment failed because .*?\. .* \(at /, '<msg> (at '))).toEqual([
      `error: <msg> (at ${join(dir, 'appspec.yml')}:1:10, version)`,
      `error: <msg> (at ${join(dir, 'appspec.yml')}:5:7, hooks.BeforeInstall[0].location)`,
      `error: <msg> (at ${join(dir, 'appspec.yml')}:5:16, hooks.BeforeInstall[0].timeout)`,
      `warning: Unknown top-level key 'hook' is ignored (at ${join(dir, 'appspec.yml')}:6:1, hook)`,
      `${join(dir, 'appspec.yml')}: invalid (3 errors, 1 warning)`,
    ]);
  });

  it('--json prints exactly {valid, errors, warnings}', async () => {
    const dir = await bundle(APPSPEC.replace('timeout: 60', 'timeout: nope'), {
      ...GOOD_FILES,
      'scripts/start.sh': ['#!/bin/sh\n', 0o644],
    });
    const { code, stdout } = await run('--json', dir);
    expect(code).toBe(1);
    expect(stdout.endsWith('\n')).toBe(true);
    const file = join(dir, 'appspec.yml');
    expect(JSON.parse(stdout)).toEqual({
      valid: false,
      errors: [
        {
          message:
            'The deployment failed because an invalid timeout value was provided for a script in the application specification file. Make corrections in the hooks section of the AppSpec file, and then try again.',
          path: 'hooks.ApplicationStart[0].timeout',
          line: 9,
          column: 16,
          file,
        },
      ],
      warnings: [],
    });
  });

  it('--json on a valid bundle with a warning', async () => {
    const dir = await bundle(APPSPEC, { ...GOOD_FILES, 'scripts/start.sh': ['#!/bin/sh\n', 0o600] });
    const { code, stdout } = await run(dir, '--json');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as { valid: boolean; errors: unknown[]; warnings: Array<Record<string, unknown>> };
    expect(parsed.valid).toBe(true);
    expect(parsed.errors).toEqual([]);
    expect(parsed.warnings.map((w) => [w.path, w.line, w.column])).toEqual([['hooks.ApplicationStart[0]', 8, 7]]);
  });

  it('warns about a hook name that is not a lifecycle event, with a suggestion (text and --json); exit 0', async () => {
    const spec =
      APPSPEC.replace('  ApplicationStart:', '  applicationstart:') +
      '  AfterInstal:\n    - location: scripts/start.sh\n  SeedDatabase:\n    - location: scripts/start.sh\n';
    const dir = await bundle(spec, GOOD_FILES);
    const text = await run(dir);
    expect(text.code).toBe(0);
    const file = join(dir, 'appspec.yml');
    expect(text.stdout.split('\n')).toEqual([
      `warning: Hook 'applicationstart' is not a lifecycle event (did you mean ApplicationStart?). A deployment from CodeDeploy fails on it at Install; codedeploy-local runs it as a custom event only when it is named with --events applicationstart (at ${file}:8:7, hooks.applicationstart)`,
      `warning: Hook 'AfterInstal' is not a lifecycle event (did you mean AfterInstall?). A deployment from CodeDeploy fails on it at Install; codedeploy-local runs it as a custom event only when it is named with --events AfterInstal (at ${file}:11:7, hooks.AfterInstal)`,
      `warning: Hook 'SeedDatabase' is not a lifecycle event. A deployment from CodeDeploy fails on it at Install; codedeploy-local runs it as a custom event only when it is named with --events SeedDatabase (at ${file}:13:7, hooks.SeedDatabase)`,
      `${file}: valid (0 errors, 3 warnings)`,
      '',
    ]);
    const json = await run(dir, '--json');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { valid: boolean; warnings: Array<{ message: string; path: string }> };
    expect(parsed.valid).toBe(true);
    expect(parsed.warnings.map((w) => w.path)).toEqual(['hooks.applicationstart', 'hooks.AfterInstal', 'hooks.SeedDatabase']);
    expect(parsed.warnings[1]?.message).toContain('(did you mean AfterInstall?)');
    // A single appspec file gets the same warnings.
    expect((await run(file)).stdout).toContain("Hook 'AfterInstal' is not a lifecycle event (did you mean AfterInstall?)");
  });

  it('falls back to appspec.yaml', async () => {
    const dir = await bundle(APPSPEC, GOOD_FILES, 'appspec.yaml');
    const { code, stdout } = await run(dir);
    expect(code).toBe(0);
    expect(stdout).toBe(`${join(dir, 'appspec.yaml')}: valid (0 errors, 0 warnings)\n`);
  });

  it('honours --appspec-filename', async () => {
    const dir = await bundle(APPSPEC, GOOD_FILES, 'deploy/spec.yml');
    const { code, stdout } = await run(dir, '--appspec-filename', 'deploy/spec.yml');
    expect(code).toBe(0);
    expect(stdout).toBe(`${join(dir, 'deploy/spec.yml')}: valid (0 errors, 0 warnings)\n`);
  });

  it('a bundle without an appspec is invalid: exit 1', async () => {
    const dir = await bundle(undefined, GOOD_FILES);
    const { code, stdout } = await run(dir);
    expect(code).toBe(1);
    expect(stdout).toContain(`error: No AppSpec file found in the bundle directory ${dir} (looked for appspec.yml, appspec.yaml)`);
  });

  it('validates a single appspec file without bundle checks', async () => {
    const dir = await tempDir();
    const file = join(dir, 'my-appspec.yml');
    await writeFile(file, APPSPEC);
    expect((await run(file)).code).toBe(0);
    await writeFile(file, 'version: 0.0\nos: linux\nfiles:\n  - source: x\n');
    const { code, stdout } = await run(file);
    expect(code).toBe(1);
    expect(stdout).toContain(`(at ${file}:4:5, files[0].destination)`);
  });

  it('--help prints the usage: exit 0', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: codedeploy-agent validate <bundle-dir | appspec-file>');
  });

  it.each([
    [['--bogus', '.'], /Unknown option '--bogus'/],
    [[], /missing <bundle-dir \| appspec-file> argument/],
    [['a', 'b'], /expected one <bundle-dir \| appspec-file> argument, got 2/],
    [['/definitely/not/here'], /\/definitely\/not\/here: no such file or directory/],
    [['--appspec-filename'], /argument missing/],
  ])('usage error %j: exit 2', async (args, message) => {
    const { code, stdout, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
  });

  it('--appspec-filename with a file argument is a usage error', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'appspec.yml'), APPSPEC);
    const { code, stderr } = await run(join(dir, 'appspec.yml'), '--appspec-filename', 'x.yml');
    expect(code).toBe(2);
    expect(stderr).toContain('--appspec-filename applies only to a bundle directory');
  });
});

/** What the deployment does with a bundle: load the appspec, resolve and check the files sources, find every hook script. */
async function deploymentVerdicts(dir: string, appSpecFilename = 'appspec.yml'): Promise<{ scripts: string[]; sources: string[] }> {
  const { spec } = await loadAppSpec(dir, appSpecFilename);
  const scripts: string[] = [];
  for (const list of spec.hooks.values()) {
    for (const script of list) {
      const found = await findScript(dir, script.location);
      scripts.push(found.ok ? 'ok' : /outside the revision/.test(found.message) ? 'outside' : 'missing');
    }
  }
  const sources: string[] = [];
  for (const [index, file] of spec.files.entries()) {
    const one = { ...spec, files: [file] };
    try {
      const kinds = await checkSources(one, dir, resolveMappings(one, dir, '/base'));
      sources.push(kinds[0] === undefined ? 'missing' : 'ok');
    } catch (err) {
      sources.push((err as AgentError).code === ErrorCodes.PATH_ESCAPE ? 'outside' : `error ${index}`);
    }
  }
  return { scripts, sources };
}

/** The same verdicts from validate's messages (ok when an entry has none), in appspec order. */
function validateVerdicts(stdout: string, count: number): { scripts: string[]; sources: string[] } {
  const issues = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = /\b(hooks\.ApplicationStart\[\d+\]|files\[\d+\])\)$/.exec(line)?.[1];
    if (at) issues.set(at, /resolves outside/.test(line) ? 'outside' : /does not exist/.test(line) ? 'missing' : line);
  }
  const indexes = [...Array(count).keys()];
  return {
    scripts: indexes.map((i) => issues.get(`hooks.ApplicationStart[${i}]`) ?? 'ok'),
    sources: indexes.map((i) => issues.get(`files[${i}]`) ?? 'ok'),
  };
}

describe('validate agrees with the deployment (one confinement rule)', () => {
  it('on "..hidden" names, "..", symlinks in and out, dangling and missing paths', async () => {
    // [hook location, verdict, files source, verdict]: hooks follow symlinks; a files source that is
    // itself a symlink is installed as a link, only the directories on the way to it are followed.
    const rows = [
      ['..hidden/s.sh', 'ok', '..hidden', 'ok'],
      ['../s.sh', 'outside', '..', 'outside'],
      ['in/s.sh', 'ok', 'in', 'ok'],
      ['out/s.sh', 'outside', 'out/s.sh', 'outside'],
      ['dangling', 'missing', 'dangling', 'ok'],
      ['missing.sh', 'missing', 'missing', 'missing'],
    ] as const;
    const spec = `version: 0.0
os: linux
files:
${rows.map((r) => `  - source: ${r[2]}\n    destination: /d`).join('\n')}
hooks:
  ApplicationStart:
${rows.map((r) => `    - location: ${r[0]}`).join('\n')}
`;
    const dir = await bundle(spec, { '..hidden/s.sh': ['#!/bin/sh\n', 0o755], 'real/s.sh': ['#!/bin/sh\n', 0o755] }, '..hidden.yml');
    await writeFile(join(dir, '..', 's.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await mkdir(join(dir, '..', 'elsewhere'));
    await writeFile(join(dir, '..', 'elsewhere', 's.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('real', join(dir, 'in'));
    await symlink(join(dir, '..', 'elsewhere'), join(dir, 'out'));
    await symlink('nowhere', join(dir, 'dangling'));

    const { stdout } = await run(dir, '--appspec-filename', '..hidden.yml');
    expect(stdout).toContain(`${join(dir, '..hidden.yml')}: invalid (7 errors, 0 warnings)`);
    const expected = { scripts: rows.map((r) => r[1]), sources: rows.map((r) => r[3]) };
    expect(validateVerdicts(stdout, rows.length)).toEqual(expected);
    expect(await deploymentVerdicts(dir, '..hidden.yml')).toEqual(expected);
  });

  it.each([['..'], ['../appspec.yml'], ['.'], ['/']])('on an AppSpec file name %j outside the bundle or naming it', async (name) => {
    const dir = await bundle(APPSPEC, GOOD_FILES);
    const { code, stdout } = await run(dir, '--appspec-filename', name);
    expect(code).toBe(1);
    expect(stdout).toContain(`The AppSpec file name ${name} resolves outside the bundle directory ${dir}`);
    await expect(loadAppSpec(dir, name)).rejects.toMatchObject({ code: ErrorCodes.PATH_ESCAPE });
  });
});
