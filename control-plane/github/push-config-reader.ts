/**
 * The deploy-on-push configuration as the webhook sees it at each delivery. The file is small, so
 * it is read again for every delivery: an edit (a new follow rule, a rotated secret) applies to
 * the next push with no restart and no file watcher. What changed is logged once per change, not
 * per delivery: deploy-on-push turned on (with the follow rules, never the secret), turned off (the
 * file is gone), or the file became invalid (every issue, with file, line and key).
 */
import type { Logger } from 'pino';
import { loadPushConfig, PushConfigError, type PushConfig } from './push-config.js';

export type PushConfigState =
  { state: 'absent'; file: string } | { state: 'invalid'; file: string; message: string } | { state: 'ready'; config: PushConfig };

export interface PushConfigReader {
  readonly file: string;
  read(): Promise<PushConfigState>;
}

export interface PushConfigReaderOptions {
  file: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** What is logged about a state: equal summaries are not logged twice in a row. */
function summary(s: PushConfigState): string {
  if (s.state === 'ready') return JSON.stringify(['ready', s.config.follow]);
  return JSON.stringify([s.state, s.state === 'invalid' ? s.message : '']);
}

export function createPushConfigReader(o: PushConfigReaderOptions): PushConfigReader {
  let last: string | undefined;
  const report = (s: PushConfigState): void => {
    const now = summary(s);
    if (now === last) return;
    const first = last === undefined;
    last = now;
    if (s.state === 'ready') {
      const follow = s.config.follow.map((r) => `${r.repository}@${r.branch} -> ${r.applicationName}/${r.deploymentGroupName}`);
      o.logger.info({ file: o.file, follow }, `Deploy on push is on: ${follow.length} followed branch(es) from ${o.file}`);
    } else if (s.state === 'invalid') o.logger.error({ file: o.file }, s.message);
    else if (!first) o.logger.warn({ file: o.file }, `Deploy on push is off: ${o.file} is gone`);
    else o.logger.debug({ file: o.file }, `Deploy on push is off (no ${o.file})`);
  };
  return {
    file: o.file,
    async read() {
      let s: PushConfigState;
      try {
        const config = await loadPushConfig(o.file, { env: o.env });
        s = config ? { state: 'ready', config } : { state: 'absent', file: o.file };
      } catch (err) {
        if (!(err instanceof PushConfigError)) throw err;
        s = { state: 'invalid', file: o.file, message: err.message };
      }
      report(s);
      return s;
    },
  };
}

/**
 * The reader, after a first read at start-up: an invalid file stops the start (the operator sees
 * the issues at once, not at the first push), and so does a missing file that was asked for by
 * name (`required`, i.e. --push-config); a missing default file just leaves deploy-on-push off.
 */
export async function openPushConfig(o: PushConfigReaderOptions & { required: boolean }): Promise<PushConfigReader> {
  const reader = createPushConfigReader(o);
  const first = await reader.read();
  if (first.state === 'invalid') throw new Error(first.message);
  if (first.state === 'absent' && o.required) {
    throw new Error(`the deploy-on-push configuration ${o.file} does not exist (given with --push-config); create it or drop the flag`);
  }
  return reader;
}
