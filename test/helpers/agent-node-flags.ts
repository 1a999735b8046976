/**
 * The V8 flags the shipped agent runs with (package.json config.agentNodeFlags: baked into the
 * executable's execArgv, and into the launcher scripts/install.sh writes). Tests that measure an
 * agent's memory start it with them, so they measure what hosts run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
  config?: { agentNodeFlags?: string };
};

export const AGENT_NODE_FLAGS: readonly string[] = (pkg.config?.agentNodeFlags ?? '').split(/\s+/).filter(Boolean);
