import type { Logger } from 'pino';
import type { AppSpec } from '../../appspec/model.js';
import type { ToolRunner } from '../platform/tool-runner.js';

export interface InstallRequest {
  deploymentGroupId: string;
  appspec: AppSpec;
  /** The revision's unpacked deployment-archive directory; every files.source must stay inside it. */
  archiveDir: string;
  /** <root_dir>/deployment-instructions: holds <DGID>-install.json and <DGID>-cleanup. */
  instructionsDir: string;
  /**
   * The deployment spec's AgentActionOverrides FileExistsBehavior (already upper-cased) or undefined.
   * The appspec's file_exists_behavior wins over it; DISALLOW is the default.
   */
  specFileExistsBehavior?: string;
  /** Relative destinations resolve against this directory (the agent's working directory). */
  baseDir: string;
  logger: Logger;
  /** Upper bound on concurrent async copies of files over 1 MiB (default 32); smaller files are copied in order, synchronously in time slices. */
  concurrency?: number;
  /**
   * Worker threads that land files beside the main thread, for plans with at least
   * `parallelCopyMinFiles` copies (default: one fewer than the cores, at most 3). 0: the main thread only.
   */
  copyThreads?: number;
  /** Plans with fewer copies than this copy on the main thread (default PARALLEL_COPY_MIN_FILES, installer.ts). */
  parallelCopyMinFiles?: number;
  /** Tests: wait until the copy threads run before the first copy (else the main thread starts without them). */
  waitForCopyThreads?: boolean;
  /** Runs setfacl, semanage, restorecon and getent; defaults to execFile. Tests pass a recording fake. */
  tools?: ToolRunner;
  /**
   * Aborting stops the install between batches (codedeploy-local interrupted): install.json is
   * either complete or untouched, and the cleanup list names everything created so far.
   */
  signal?: AbortSignal;
}

export interface InstallSummary {
  filesCopied: number;
  directoriesCreated: number;
  filesRetained: number;
  permissionsApplied: number;
  /** Entries removed by the cleanup of the previous install of this group. */
  cleanedUp: number;
}
