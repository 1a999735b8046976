/**
 * The npm build under measurement: dist/'s CLIs and the V8 flags every shipped form runs the agent
 * with (package.json config.agentNodeFlags: baked into the executable's execArgv, passed by
 * install.sh's launcher), so the npm build is measured as it runs on a host.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../scripts/lib/local-fleet.js';

export const repo = projectRoot();
export const agentCli = join(repo, 'dist', 'agent', 'cli', 'codedeploy-agent.js');
export const localCli = join(repo, 'dist', 'agent', 'cli', 'codedeploy-local.js');

export function agentNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { config?: { agentNodeFlags?: string } };
  return (pkg.config?.agentNodeFlags ?? '').split(/\s+/).filter(Boolean);
}
