import type { Logger } from 'pino';
import type { AppSpec } from '../../appspec/model.js';

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
  /** Upper bound on concurrent file copies (default 32). */
  concurrency?: number;
}

export interface InstallSummary {
  filesCopied: number;
  directoriesCreated: number;
  filesRetained: number;
  permissionsApplied: number;
  /** Entries removed by the cleanup of the previous install of this group. */
  cleanedUp: number;
}
