/**
 * The appspecs one command reads, each read and parsed once. The daemon asks about a hook command
 * twice: isNoop (before the acknowledgement: has its revision scripts for its events?) and
 * execute (which scripts to run); a command mapped to several events reads the revision once per
 * event. So the executor gives each command one CommandAppSpecs, and AppSpecHandOff carries the
 * one isNoop filled over to the same command's execute.
 *
 * Keyed by the revision directory, which the executor chooses again at execute (another process
 * may have changed the last successful revision meanwhile): a different choice reads afresh. The
 * appspec inside one revision directory does not change between the two: only that deployment's
 * DownloadBundle writes it, and a deployment group runs one command at a time.
 */
import type { DeploymentSpec } from '../spec/deployment-spec.js';
import { loadAppSpec, type LoadedAppSpec } from './appspec-loader.js';

export class CommandAppSpecs {
  private readonly byArchive = new Map<string, LoadedAppSpec>();

  constructor(private readonly appSpecFilename: string) {}

  /** The appspec of the revision unpacked in archiveDir. A failure is not kept: the next reader meets it afresh. */
  async load(archiveDir: string): Promise<LoadedAppSpec> {
    const known = this.byArchive.get(archiveDir);
    if (known) return known;
    const loaded = await loadAppSpec(archiveDir, this.appSpecFilename);
    this.byArchive.set(archiveDir, loaded);
    return loaded;
  }
}

interface Slot {
  deploymentId: string;
  commandName: string;
  appspecs: CommandAppSpecs;
}

/**
 * One slot per deployment group: a group runs one command at a time, so what a command's isNoop
 * left is either taken by its execute or replaced by the group's next command (the control plane
 * may answer the acknowledgement with "skip it"). Memory stays bounded by the number of groups.
 */
export class AppSpecHandOff {
  private readonly slots = new Map<string, Slot>();

  /** For isNoop: a fresh set, kept for this command's execute. */
  begin(commandName: string, spec: DeploymentSpec): CommandAppSpecs {
    const appspecs = new CommandAppSpecs(spec.appSpecFilename);
    this.slots.set(spec.deploymentGroupId, { deploymentId: spec.deploymentId, commandName, appspecs });
    return appspecs;
  }

  /** For execute: the set this command's isNoop filled (the slot is emptied), else a fresh one. */
  take(commandName: string, spec: DeploymentSpec): CommandAppSpecs {
    const slot = this.slots.get(spec.deploymentGroupId);
    if (slot?.deploymentId !== spec.deploymentId || slot.commandName !== commandName) return new CommandAppSpecs(spec.appSpecFilename);
    this.slots.delete(spec.deploymentGroupId);
    return slot.appspecs;
  }
}
