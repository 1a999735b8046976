/**
 * The on-premises identity file, codedeploy.onpremises.yml (docs/reference.md section 2.7), with the
 * official rules and messages, checked in the official order:
 * - both iam_user_arn and iam_session_arn: an error;
 * - iam_user_arn needs region, aws_access_key_id, aws_secret_access_key (in that order);
 * - iam_session_arn needs region, aws_credentials_file;
 * - neither ARN: the file configures nothing (undefined, with a debug note);
 * - unparsable YAML or anything but a mapping (an empty file included): the official
 *   "format ... is invalid" message.
 * Keys may be written ":key:" (Ruby symbol style) or "key:".
 *
 * Unlike the official agent nothing is exported into process.env: the values are returned and
 * the credentials live only in a provider object (docs/reference.md section 11.2 item 7).
 * Differences: a value that is empty or only whitespace counts as missing (Ruby treats "" as
 * present); a relative aws_credentials_file is resolved against this file's directory (the
 * official resolves it against the agent's working directory); a file that exists but cannot be
 * read is an error (the official silently ignores it and falls back to EC2).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parseDocument } from 'yaml';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode } from '../../common/errors.js';

export interface OnPremisesIamUserConfig {
  mode: 'iam-user';
  /** The file it came from. */
  path: string;
  region: string;
  iamUserArn: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface OnPremisesIamSessionConfig {
  mode: 'iam-session';
  path: string;
  region: string;
  iamSessionArn: string;
  /** Absolute path of the INI credentials file (default profile), kept fresh by a rotation tool. */
  credentialsFile: string;
}

export type OnPremisesConfig = OnPremisesIamUserConfig | OnPremisesIamSessionConfig;

export interface LoadOnPremisesOptions {
  logger?: Logger;
}

const invalid = (path: string, cause?: unknown): AgentError =>
  new AgentError(
    ErrorCodes.ONPREMISES_CONFIG_INVALID,
    `The deployment failed because the format of the following on-premises configuration file is invalid: ${path}`,
    { cause, details: { file: path } },
  );

/** Read the file; undefined when it does not exist or names neither ARN. */
export async function loadOnPremisesConfig(path: string, opts: LoadOnPremisesOptions = {}): Promise<OnPremisesConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      opts.logger?.debug({ file: path }, 'On Premises config file does not exist');
      return undefined;
    }
    throw new AgentError(ErrorCodes.ONPREMISES_CONFIG_INVALID, `The on-premises configuration file ${path} exists but cannot be read`, {
      cause: err,
      details: { file: path, errno: errnoCode(err) },
    });
  }
  return parseOnPremisesConfig(text, path, opts);
}

/** Validate the file's text (pure apart from resolving a relative credentials path). */
export function parseOnPremisesConfig(text: string, path: string, opts: LoadOnPremisesOptions = {}): OnPremisesConfig | undefined {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false });
  if (doc.errors.length > 0) throw invalid(path, doc.errors[0]);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw invalid(path, err);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(path);

  const values = new Map<string, string>();
  for (const [rawKey, value] of Object.entries(raw as Record<string, unknown>)) {
    const key = rawKey.replace(/^:/, '');
    if (typeof value === 'string' || typeof value === 'number') {
      const trimmed = String(value).trim();
      if (trimmed !== '') values.set(key, trimmed);
    }
  }

  const userArn = values.get('iam_user_arn');
  const sessionArn = values.get('iam_session_arn');
  if (userArn !== undefined && sessionArn !== undefined) {
    throw new AgentError(
      ErrorCodes.ONPREMISES_CONFIG_INVALID,
      "On Premises config cannot contain both 'iam_user_arn' and 'iam_session_arn' keys.",
      {
        details: { file: path },
      },
    );
  }
  const required = (arnKey: string, fields: string[]): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const field of fields) {
      const value = values.get(field);
      if (value === undefined) {
        throw new AgentError(ErrorCodes.ONPREMISES_CONFIG_INVALID, `'${field}' key is required when '${arnKey}' is provided.`, {
          details: { file: path, key: field },
        });
      }
      out[field] = value;
    }
    return out;
  };

  if (userArn !== undefined) {
    const v = required('iam_user_arn', ['region', 'aws_access_key_id', 'aws_secret_access_key']);
    return {
      mode: 'iam-user',
      path,
      region: v.region,
      iamUserArn: userArn,
      accessKeyId: v.aws_access_key_id,
      secretAccessKey: v.aws_secret_access_key,
    };
  }
  if (sessionArn !== undefined) {
    const v = required('iam_session_arn', ['region', 'aws_credentials_file']);
    return {
      mode: 'iam-session',
      path,
      region: v.region,
      iamSessionArn: sessionArn,
      credentialsFile: resolve(dirname(path), v.aws_credentials_file),
    };
  }
  opts.logger?.debug({ file: path }, 'On Premises config file names neither iam_user_arn nor iam_session_arn: it configures nothing');
  return undefined;
}
