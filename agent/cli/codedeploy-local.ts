#!/usr/bin/env node
import { originalEnv } from './boot.js';
import { processIo } from '../../common/cli-io.js';
import { LocalInterrupt, runCodedeployLocal } from './local-command.js';

// Ctrl-C or SIGTERM must not kill node under a running hook: hooks run in their own process group
// (out of the terminal's reach), so the deployment is stopped instead, and the hook with it.
const interrupt = new AbortController();
const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
  if (interrupt.signal.aborted) {
    processIo.stderr(
      `codedeploy-local: ${signal} received again: still stopping (what the hook started gets SIGKILL if it does not exit)\n`,
    );
    return;
  }
  processIo.stderr(`\ncodedeploy-local: ${signal} received: stopping the deployment\n`);
  interrupt.abort(new LocalInterrupt(signal));
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

process.exitCode = await runCodedeployLocal(process.argv.slice(2), {
  io: processIo,
  cwd: process.cwd(),
  env: originalEnv,
  interrupt: interrupt.signal,
});
