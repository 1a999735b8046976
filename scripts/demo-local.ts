/**
 * npm run demo:local: a deployment with codedeploy-local alone (no control plane). It writes an agent
 * config into a temp root, runs codedeploy-local twice on samples/hello-app (the second run also
 * runs the previous revision's ApplicationStop), and shows where scripts.log is.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repo, 'dist', 'agent', 'cli', 'codedeploy-local.js');
const sample = join(repo, 'samples', 'hello-app');

function run(args: string[]): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveRun(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'codedeploy-demo-'));
  const home = join(root, 'agent-home');
  await mkdir(home, { recursive: true });
  const config = join(root, 'codedeployagent.yml');
  await writeFile(
    config,
    [
      '# Written by npm run demo: every path lives in this temp root.',
      `:root_dir: ${join(root, 'deployment-root')}`,
      `:log_dir: ${join(root, 'log')}`,
      `:pid_dir: ${join(root, 'state')}`,
      `:working_directory: ${home}`,
      ':max_revisions: 5',
      '',
    ].join('\n'),
  );
  console.log(`Demo root: ${root}\n`);
  const args = [
    '--bundle-location',
    sample,
    '--type',
    'directory',
    '--deployment-group',
    'demo-group',
    '--application-name',
    'HelloApp',
    '-c',
    config,
  ];
  for (const round of [1, 2]) {
    console.log(`--- deployment ${round} of 2: codedeploy-local ${args.join(' ')}`);
    const code = await run(args);
    if (code !== 0) {
      console.error(`\nThe demo deployment failed (exit ${code}).`);
      return code;
    }
    console.log('');
  }
  const log = join(root, 'deployment-root', 'deployment-logs', 'codedeploy-agent-deployments.log');
  const lines = (await readFile(log, 'utf8')).trimEnd().split('\n');
  console.log(`Last lines of the deployments log (${log}):`);
  for (const line of lines.slice(-8)) console.log(`  ${line}`);
  const lastId = /\[(d-[A-Z0-9]+-local)\]/.exec(lines[lines.length - 1] ?? '')?.[1] ?? '';
  const scriptsLog = join(root, 'deployment-root', 'demo-group', lastId, 'logs', 'scripts.log');
  console.log(`\nInstalled files: ${join(home, 'hello-app', 'site')}`);
  console.log(`scripts.log of the last deployment: ${scriptsLog}`);
  return 0;
}

process.exitCode = await main();
