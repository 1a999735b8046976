/**
 * codedeploy-local as a program: the signal handling around runCodedeployLocal. The entry points
 * are codedeploy-local.ts (npm) and agent-main.ts (the release executable).
 */
import { processIo } from '../../common/cli-io.js';
import { LocalInterrupt, runCodedeployLocal } from './local-command.js';

/** Runs codedeploy-local with these arguments; resolves to its exit code. */
export function runLocalMain(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
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
  return runCodedeployLocal(args, { io: processIo, cwd: process.cwd(), env, interrupt: interrupt.signal });
}
