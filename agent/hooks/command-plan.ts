/**
 * How a hook script is started (pure). Always argv, never a shell string (the official agent's
 * `su <runas> -c <path>` string is weak point 5):
 *
 * | agent  | runas              | sudo  | argv                                                           |
 * |--------|--------------------|-------|----------------------------------------------------------------|
 * | root   | set                | any   | setpriv --reuid=U --regid=G --init-groups -- <script>          |
 * | root   | unset              | any   | <script> (sudo is a no-op for root)                            |
 * | user   | set, same uid      | any   | <script>                                                       |
 * | user   | set, other user    | any   | refused (code 4): switching users needs root                   |
 * | user   | unset              | true  | sudo -n -- <script> (-n: fail instead of prompting; sudo's     |
 * |        |                    |       | env_reset policy applies, as with the official `sudo <path>`)  |
 * | user   | unset              | false | <script>                                                       |
 *
 * setpriv (util-linux) is used rather than Node's uid/gid spawn options because those leave the
 * supplementary groups empty; --init-groups sets the user's groups from NSS. With runas, HOME,
 * USER, LOGNAME and SHELL are the target user's (su resets them in the official agent).
 */
import type { PasswdEntry } from './user-lookup.js';

export interface CommandPlanInput {
  scriptPath: string;
  location: string;
  runas?: string;
  sudo: boolean;
  /** The agent's effective uid. */
  agentUid: number;
  /** The resolved runas user (required when runas is set). */
  user?: PasswdEntry;
  setprivPath: string;
}

export type CommandPlan = { ok: true; file: string; args: string[]; env: Record<string, string> } | { ok: false; message: string };

export function planCommand(input: CommandPlanInput): CommandPlan {
  const { scriptPath, runas, user } = input;
  if (runas !== undefined) {
    if (!user)
      return {
        ok: false,
        message: `Script at specified location: ${input.location} run as user ${runas} failed with error UnknownUser with message no user named ${runas} exists on this host`,
      };
    const env = { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell || '/bin/sh' };
    if (input.agentUid === 0) {
      return {
        ok: true,
        file: input.setprivPath,
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', scriptPath],
        env,
      };
    }
    if (user.uid === input.agentUid) return { ok: true, file: scriptPath, args: [], env };
    return {
      ok: false,
      message:
        `Script at specified location: ${input.location} run as user ${runas} failed with error EPERM with message running a script as user ${runas} requires the agent to run as root,` +
        ` and it runs as uid ${input.agentUid} (:user: in the agent config, or codedeploy-local without sudo): remove runas from this hook, or run the agent as root`,
    };
  }
  if (input.sudo && input.agentUid !== 0) return { ok: true, file: 'sudo', args: ['-n', '--', scriptPath], env: {} };
  return { ok: true, file: scriptPath, args: [], env: {} };
}
