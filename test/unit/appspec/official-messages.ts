/**
 * The official agent's messages, written out here independently of appspec/messages.ts (copied
 * from docs/reference.md section 5.2) so the tests check the text character for character.
 */
const DF = 'The deployment failed because';

export const M = {
  empty: `${DF} the application specification file was empty. Make sure your AppSpec file defines at minimum the 'version' and 'os' properties.`,
  version: (v: string) =>
    `${DF} an invalid version value (${v}) was entered in the application specification file. Make sure your AppSpec file specifies "0.0" as the version, and then try again.`,
  os: (os: string) =>
    `${DF} the application specification file specifies an unsupported operating system (${os}). Specify either "linux" or "windows" in the os section of the AppSpec file, and then try again.`,
  noLocation: `${DF} the application specification file specifies a script with no location value. Specify the location in the hooks section of the AppSpec file, and then try again.`,
  timeout: `${DF} an invalid timeout value was provided for a script in the application specification file. Make corrections in the hooks section of the AppSpec file, and then try again.`,
  noSource: `${DF} the application specification file specifies a destination file, but no source file. Update the files section of the AppSpec file, and then try again.`,
  noDestination: (s: string) =>
    `${DF} the application specification file specifies only a source file (${s}). Add the name of the destination file to the files section of the AppSpec file, and then try again.`,
  noObject: `${DF} a permission listed in the application specification file has no object value. Update the permissions section of the AppSpec file, and then try again.`,
  windowsPermissions: `${DF} the application specification file specifiles file permissions, but the deployment is targeting one or more Windows Server instances. Permissions are supported only for Amazon Linux, Ubuntu Server, and Red Hat Enterprise Linux (RHEL) instances. Update the permissions section of the AppSpec file, and then try again.`,
  type: (t: string) =>
    `${DF} the application specification filespecifies a permission for an object type not supported for permissions (${t}). Update the permissions section of the AppSpec file, and then try again.`,
  modeLength: (m: string) =>
    `${DF} the length of a permissions mode (${m}) in the application specification file is invalid. Permissions modes must be between one and four characters long. Update the permissions section of the AppSpec file, and then try again.`,
  modeChar: (m: string, c: string) =>
    `${DF} the permissions mode (${m}) in the application specification file contains an invalid character (${c}). Update the permissions section of the AppSpec file, and then try again.`,
  contextType: (h: string) =>
    `${DF} the application specification file specifies an invalid context type (${h}). Update the permissions section of the AppSpec file, and then try again.`,
  role: `${DF} the application specification file specifies a role, but roles are not supported. Remove the role from the AppSpec file, and then try again.`,
  feb: (v: string) =>
    `${DF} an invalid file_exists_behavior value (${v}) was entered in the application specification file. Make sure your AppSpec file specifies one of DISALLOW,OVERWRITE,RETAIN as the file_exists_behavior, and then try again.`,
  aclEntry: (a: string) =>
    `${DF} of a problem with the acls permission settings in the application specification file. Invalid acl entry (${a}).`,
  aclBase: (a: string) =>
    `${DF} of a problem with the acls permission settings in the application specification file. Use mode to set the base acl entry (${a}). Update the permissions section of the AppSpec file, and then try again.`,
  aclChar: (a: string, c: string) =>
    `${DF} the access control list (ACL) named ${a} in the application specification file contains an invalid character (${c}). Correct the ACL in the hooks section of the AppSpec file, and then try again.`,
  seRange: (r: string) =>
    `${DF} of a problem with the SELinux range specified (${r}) for the context parameter in the permissions section of the application specification file. Make corrections in the permissions section of the AppSpec file, and then try again.`,
};
