/**
 * Every message the appspec parser reports. The official ones (docs/reference.md section 5.2) are the
 * contract, character for character, typos included ("specifiles", "filespecifies", the ACL message
 * that says "hooks section"). The structural ones cover what the official agent leaves to Ruby
 * exceptions (a string where a list is expected, ...) and are written in the same style.
 */

const DF = 'The deployment failed because';

// ---- Official messages (application_specification/*.rb) ----

export const emptyAppSpec = (): string =>
  `${DF} the application specification file was empty. Make sure your AppSpec file defines at minimum the 'version' and 'os' properties.`;

export const invalidVersion = (v: string): string =>
  `${DF} an invalid version value (${v}) was entered in the application specification file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.`;

export const unsupportedOs = (os: string): string =>
  `${DF} the application specification file specifies an unsupported operating system (${os}). Specify either "linux" or "windows" in the os section of the AppSpec file, and then try again.`;

export const scriptWithoutLocation = (): string =>
  `${DF} the application specification file specifies a script with no location value. Specify the location in the hooks section of the AppSpec file, and then try again.`;

export const invalidTimeout = (): string =>
  `${DF} an invalid timeout value was provided for a script in the application specification file. Make corrections in the hooks section of the AppSpec file, and then try again.`;

export const fileWithoutSource = (): string =>
  `${DF} the application specification file specifies a destination file, but no source file. Update the files section of the AppSpec file, and then try again.`;

export const fileWithoutDestination = (source: string): string =>
  `${DF} the application specification file specifies only a source file (${source}). Add the name of the destination file to the files section of the AppSpec file, and then try again.`;

export const permissionWithoutObject = (): string =>
  `${DF} a permission listed in the application specification file has no object value. Update the permissions section of the AppSpec file, and then try again.`;

export const permissionsOnWindows = (): string =>
  `${DF} the application specification file specifiles file permissions, but the deployment is targeting one or more Windows Server instances. Permissions are supported only for Amazon Linux, Ubuntu Server, and Red Hat Enterprise Linux (RHEL) instances. Update the permissions section of the AppSpec file, and then try again.`;

export const unsupportedObjectType = (type: string): string =>
  `${DF} the application specification filespecifies a permission for an object type not supported for permissions (${type}). Update the permissions section of the AppSpec file, and then try again.`;

export const invalidModeLength = (mode: string): string =>
  `${DF} the length of a permissions mode (${mode}) in the application specification file is invalid. Permissions modes must be between one and four characters long. Update the permissions section of the AppSpec file, and then try again.`;

export const invalidModeCharacter = (mode: string, char: string): string =>
  `${DF} the permissions mode (${mode}) in the application specification file contains an invalid character (${char}). Update the permissions section of the AppSpec file, and then try again.`;

export const invalidContextType = (inspected: string): string =>
  `${DF} the application specification file specifies an invalid context type (${inspected}). Update the permissions section of the AppSpec file, and then try again.`;

export const rolesNotSupported = (): string =>
  `${DF} the application specification file specifies a role, but roles are not supported. Remove the role from the AppSpec file, and then try again.`;

export const invalidFileExistsBehavior = (v: string): string =>
  `${DF} an invalid file_exists_behavior value (${v}) was entered in the application specification file. Make sure your AppSpec file specifies one of DISALLOW,OVERWRITE,RETAIN as the file_exists_behavior, and then try again.`;

export const invalidAclEntry = (ace: string): string =>
  `${DF} of a problem with the acls permission settings in the application specification file. Invalid acl entry (${ace}).`;

export const baseAclEntry = (ace: string): string =>
  `${DF} of a problem with the acls permission settings in the application specification file. Use mode to set the base acl entry (${ace}). Update the permissions section of the AppSpec file, and then try again.`;

export const invalidAclCharacter = (ace: string, char: string): string =>
  `${DF} the access control list (ACL) named ${ace} in the application specification file contains an invalid character (${char}). Correct the ACL in the hooks section of the AppSpec file, and then try again.`;

export const invalidSeRange = (range: string): string =>
  `${DF} of a problem with the SELinux range specified (${range}) for the context parameter in the permissions section of the application specification file. Make corrections in the permissions section of the AppSpec file, and then try again.`;

export const invalidRangePart = (input: string): string => `invalid range part ${input}`;
export const invalidSensitivity = (s: string): string => `invalid sensitivity ${s}`;
export const invalidCategory = (c: string): string => `invalid category ${c}`;
export const invalidCategoryRange = (low: string, high: string): string => `invalid category range ${low}.${high}`;
export const duplicateCategories = (): string => 'duplicate categories';

// ---- Structural messages (ours; the official agent raises a Ruby error here) ----

/**
 * "<subject> in the application specification file must be <expected>, but it is <actual>."
 * subject: "the hooks section", "a script in the hooks section", ...; section names the section
 * the user should update.
 */
export const wrongShape = (subject: string, expected: string, actual: string, section: string): string =>
  `${DF} ${subject} of the application specification file must be ${expected}, but it is ${actual}. Update the ${section} of the AppSpec file, and then try again.`;

export const notYaml = (problem: string, line: number, column: number): string =>
  `${DF} the application specification file is not valid YAML: ${problem} (line ${line}, column ${column}). Correct the syntax of the AppSpec file, and then try again.`;

export const internalFailure = (detail: string): string =>
  `${DF} the application specification file could not be read: ${detail}. Check the AppSpec file, and then try again.`;

// ---- Warnings (ours) ----

export const unknownKey = (where: string, key: string): string => `Unknown ${where} key '${key}' is ignored`;

export const duplicateKey = (key: string, firstLine: number): string =>
  `Duplicate key '${key}': this value replaces the one at line ${firstLine} (the last one wins)`;

export const extraDocuments = (count: number): string => `The file holds ${count} YAML documents; only the first one is read`;

export const sudoNotBoolean = (text: string): string =>
  `sudo value '${text}' is not true or false; any value other than false, no, off or null counts as true`;

export const emptyRunas = (): string => 'runas is empty and is ignored: the script runs as the agent user';

export const emptyTypeList = (): string => 'type is an empty list: this permission applies to nothing';

export const yamlWarning = (problem: string): string => `YAML: ${problem}`;

/**
 * A hook name that is not a lifecycle event: a deployment from CodeDeploy fails on it at Install
 * ("… contains unknown lifecycle events"), while codedeploy-local runs it as a custom event when
 * it is named with --events. `neverRuns`: an event of the agent's own (DownloadBundle, Install).
 */
export const unknownHookName = (event: string, suggestion: string | undefined, neverRuns = false): string => {
  const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
  if (neverRuns) {
    return `Hook '${event}' never runs: ${event} is a step of the agent, not a hook event${hint}. Put its scripts under BeforeInstall or AfterInstall`;
  }
  return `Hook '${event}' is not a lifecycle event${hint}. A deployment from CodeDeploy fails on it at Install; codedeploy-local runs it as a custom event only when it is named with --events ${event}`;
};
