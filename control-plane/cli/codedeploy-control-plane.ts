#!/usr/bin/env node
import { processIo } from '../../common/cli-io.js';
import { hideSdkNodeVersionWarning } from '../../common/sdk-warning.js';
import { runControlPlaneCli } from './control-plane-command.js';

hideSdkNodeVersionWarning();
const stopSignal = new Promise<string>((resolve) => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig));
});
process.exitCode = await runControlPlaneCli(process.argv.slice(2), {
  io: processIo,
  env: process.env,
  stopSignal,
  stdoutIsTTY: process.stdout.isTTY === true,
});
// Open handles (a held long poll) must not keep a stopped control plane alive.
if (process.exitCode === 0) setTimeout(() => process.exit(0), 100).unref();
