/**
 * Test helper: the aws CLI v2 (`/usr/bin/aws`; an older v1 may come first on PATH) against a local
 * endpoint, isolated from the machine's own setup: dummy credentials, no config or credentials
 * files, no instance metadata, no pager, JSON output. A non-zero exit is a result, not a throw, so
 * tests assert on the error text.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

export const AWS_CLI = '/usr/bin/aws';
export const hasAwsCli = existsSync(AWS_CLI);

export interface AwsCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function awsCli(
  endpointUrl: string,
  home: string,
  extraEnv: Record<string, string> = {},
): (...args: string[]) => Promise<AwsCliResult> {
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    AWS_ACCESS_KEY_ID: 'AKIDLOCALCLI',
    AWS_SECRET_ACCESS_KEY: 'local-cli-secret',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extraEnv,
  };
  return async (...args) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(AWS_CLI, [...args, '--endpoint-url', endpointUrl, '--output', 'json'], {
        env,
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
}
