/**
 * Every message the installer reports. The official ones (docs/reference.md sections 5.3 and 5.4,
 * installer.rb, install_instruction.rb, linux_permission_info.rb) are the contract, character for
 * character. The others cover what the official agent leaves to raw Ruby errno exceptions or does
 * not check at all (path escapes, unknown users), written in the same style.
 */
import type { SourceLocation } from '../../appspec/model.js';
import { nonRootHint } from '../platform/privileges.js';

const DF = 'The deployment failed because';

// ---- Official messages ----

export const fileAlreadyExists = (target: string): string => `${DF} a specified file already exists at this location: ${target}`;

export const invalidFileExistsOption = (value: string): string =>
  `${DF} an invalid option was specified for fileExistsBehavior: ${value}. Valid options include OVERWRITE, RETAIN, and DISALLOW.`;

export const twoSourcesSameDestination = (source: string, other: string, dest: string): string =>
  `${DF} the application specification file specifies two source files named ${source} and ${other} for the same destination (${dest}). Remove one of the source file paths from the AppSpec file, and then try again.`;

export const copyOntoDirectory = (source: string, dest: string): string =>
  `${DF} the application specification file calls for installing the file ${source}, but a file with that name already exists at the location (${dest}). Update your AppSpec file or directory structure, and then try again.`;

export const mkdirOntoFile = (dest: string, source: string): string =>
  `${DF} the application specification file includes an mkdir command more than once for the same destination path (${dest}) from (${source}). Update the files section of the AppSpec file, and then try again.`;

export const invalidFilePattern = (object: string, pattern: string): string =>
  `${DF} the application specification file includes an object (${object}) with an invalid pattern (${pattern}), such as a pattern for a file applied to a directory. Correct the permissions section of the AppSpec file, and then try again.`;

/** `except` is printed the way Ruby's Array#inspect prints a list of strings: ["a", "b"]. */
export const invalidFileExcept = (except: readonly string[], object: string): string =>
  `${DF} the except parameter for a pattern in the permissions section (${rubyInspect(except)}) for the object named ${object} contains an invalid format. Update the AppSpec file, and then try again.`;

export const defaultAclOnFile = (): string =>
  `${DF} the -d parameter has been specified to apply an acl setting to a file. This parameter is supported for directories only. Update the AppSpec file, and then try again.`;

export const permissionTwice = (path: string): string =>
  `${DF} the permissions setting for (${path}) is specified more than once in the application specification file. Update the files section of the AppSpec file, and then try again.`;

export const setfaclFailed = (path: string, command: string, status: string): string =>
  `${DF} of a problem with the acls permission settings in the application specification file for this object: ${path}. Failed command: ${command}. Exit code: ${status}`;

export const contextFailed = (command: string, status: string): string =>
  `${DF} the application specification file contains an error in the settings for the context parameter. Update the permissions section of the AppSpec file, and then try again. Failed command: ${command}. Exit code: ${status}`;

// ---- Our own messages (the official agent raises raw Ruby errors or does not check) ----

export const sourceEscapes = (where: SourceLocation, source: string): string =>
  `${DF} the files entry ${where.path} in ${where.file} (line ${where.line}) specifies a source (${source}) that resolves outside the revision directory. Sources must stay inside the revision.`;

export const sourceMissing = (where: SourceLocation, source: string, path: string): string =>
  `${DF} the files entry ${where.path} in ${where.file} (line ${where.line}) specifies a source (${source}) that does not exist in the revision: ${path}`;

export const unsupportedFileType = (path: string): string =>
  `${DF} the revision contains ${path}, which is neither a regular file, a directory nor a symbolic link and cannot be installed.`;

export const newlineInPath = (path: string): string =>
  `${DF} the path ${JSON.stringify(path)} contains a line break, which the cleanup list cannot record.`;

export const unknownAccount = (kind: 'owner' | 'group', name: string, where: SourceLocation): string =>
  `${DF} the permissions entry ${where.path} in ${where.file} (line ${where.line}) names the ${kind} ${name}, which does not exist on this host (${kind === 'owner' ? 'getent passwd' : 'getent group'} found nothing).`;

/** A permission error in a non-root agent also says why (privileges.ts nonRootHint). */
export const operationFailed = (what: string, path: string, cause: string): string =>
  `${DF} the agent could not ${what} ${path}: ${cause}${nonRootHint(cause)}`;

function rubyInspect(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
}
