import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRotatingAgentLog } from '../../../agent/log/agent-logger.js';
import { createLogger } from '../../../common/logger.js';
import { tempDir } from '../../helpers/temp.js';

describe('agent logger', () => {
  it('redacts credentials and tokens wherever they are logged', () => {
    let out = '';
    const destination = new Writable({
      write(chunk: Buffer, _e, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const logger = createLogger({ name: 'codedeploy-agent', destination });
    logger.info(
      {
        credentials: { accessKeyId: 'AKIDLEAK', secretAccessKey: 'SECRETLEAK', sessionToken: 'TOKENLEAK' },
        gitHubAccessToken: 'ghp_LEAK',
        headers: { authorization: 'AWS4-HMAC-SHA256 Signature=LEAK' },
      },
      'calling',
    );
    expect(out).toContain('"msg":"calling"');
    for (const secret of ['AKIDLEAK', 'SECRETLEAK', 'TOKENLEAK', 'ghp_LEAK', 'Signature=LEAK']) expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
  });

  it('writes JSON lines (:log_format: json) to a file that rotates by size and keeps a fixed number of files', async () => {
    const dir = await tempDir();
    const file = join(dir, 'codedeploy-agent.log');
    const log = createRotatingAgentLog({ file, rotation: { maxBytes: 2000, keep: 3 }, format: 'json' });
    for (let i = 0; i < 100; i++) log.logger.info({ i }, `line ${i} ${'x'.repeat(50)}`);
    await log.close();
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['codedeploy-agent.log', 'codedeploy-agent.log.0', 'codedeploy-agent.log.1']);
    const live = (await readFile(file, 'utf8')).trim().split('\n');
    expect(JSON.parse(live[live.length - 1] as string)).toMatchObject({ level: 'info', i: 99 });
    for (const f of files) expect((await readFile(join(dir, f))).length).toBeLessThanOrEqual(2000);
  });
});
