/**
 * The agent log's text format (the official line) and JSON format, through real pino loggers and
 * real files. The time zone is fixed for this file (vitest runs each test file in its own process):
 * Asia/Kolkata is UTC+05:30 all year, so local time cannot be mistaken for UTC.
 */
import { readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentLogTextFormatter, escapeMessage, formatValue } from '../../../agent/log/agent-log-format.js';
import { createAgentLogger, createFileAgentLog, createRotatingAgentLog } from '../../../agent/log/agent-logger.js';
import { parseAgentConfig } from '../../../agent/config/agent-config.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { tempDir } from '../../helpers/temp.js';

const savedTz = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'Asia/Kolkata';
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

/** 2024-05-01 12:00:01.250 in Kolkata. */
const T = Date.parse('2024-05-01T06:30:01.250Z');
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) (DEBUG|INFO |WARN |ERROR|FATAL) \[([^\]()]+)\((\d+)\)\]: (.*)$/;

function capture(options: Parameters<typeof createAgentLogger>[1] = {}) {
  const lines: string[] = [];
  const logger = createAgentLogger((line) => lines.push(line), options);
  return { logger, lines };
}

describe('the text format', () => {
  const f = new AgentLogTextFormatter({ program: 'codedeploy-agent', pid: 4242, stacks: false });

  it('writes the official line: local time, the level padded to 5, program(pid), message', () => {
    expect(f.format({ level: 'info', time: T, msg: 'Polling for commands' })).toBe(
      '2024-05-01T12:00:01 INFO  [codedeploy-agent(4242)]: Polling for commands\n',
    );
    const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) =>
      f.format({ level, time: T, msg: 'm' }).slice(20, 26),
    );
    expect(levels).toEqual(['TRACE ', 'DEBUG ', 'INFO  ', 'WARN  ', 'ERROR ', 'FATAL ']);
    // Numeric levels (a JSON line from elsewhere) map to the same labels.
    expect(f.format({ level: 40, time: T, msg: 'm' })).toContain(' WARN  [');
  });

  it('appends fields as key=value, quoting only what could be misread', () => {
    const line = f.format({
      level: 'info',
      time: T,
      msg: 'Deploying',
      deploymentId: 'd-ABCDEFGHI',
      path: '/opt/app/it’s here',
      spaced: 'a b',
      quoted: 'say "hi"',
      equals: 'k=v',
      empty: '',
      numeric: '42',
      literal: 'true',
      braces: '{x}',
      count: 3,
      ratio: 0.5,
      ok: false,
      none: null,
      list: ['a', 1],
      nested: { a: 'b c', n: 1 },
      'odd key': 1,
    });
    expect(line).toBe(
      '2024-05-01T12:00:01 INFO  [codedeploy-agent(4242)]: Deploying deploymentId=d-ABCDEFGHI path="/opt/app/it’s here"' +
        ' spaced="a b" quoted="say \\"hi\\"" equals="k=v" empty="" numeric="42" literal="true" braces="{x}"' +
        ' count=3 ratio=0.5 ok=false none=null list=["a",1] nested={"a":"b c","n":1} "odd key"=1\n',
    );
    expect(formatValue('arn:aws:iam::123456789012:user/test-host')).toBe('arn:aws:iam::123456789012:user/test-host');
    expect(formatValue('0640')).toBe('0640');
    expect(formatValue('-1')).toBe('"-1"');
  });

  it('keeps each record on one line and writes no raw control characters', () => {
    const line = f.format({
      level: 'warn',
      time: T,
      msg: 'first\nsecond\r\u001b[31mred\u2028end\ttab',
      output: 'line 1\nline 2\u001b[0m\u0085\u2029',
    });
    expect(line.endsWith('\n')).toBe(true);
    for (const c of ['\n', '\r', '\u001b', '\u0085', '\u2028', '\u2029']) expect(line.slice(0, -1)).not.toContain(c);
    expect(line).toContain(': first\\nsecond\\r\\u001b[31mred\\u2028end\ttab ');
    const value = /output=(.*)$/.exec(line.trimEnd())?.[1] ?? '';
    expect(JSON.parse(value)).toBe('line 1\nline 2\u001b[0m\u0085\u2029');
    expect(escapeMessage('C:\\dir\\n')).toBe('C:\\dir\\n');
  });

  it('writes the fields right after ": " when the record has no message', () => {
    expect(f.format({ level: 'debug', time: T, octokit: 'GET /repos' })).toBe(
      '2024-05-01T12:00:01 DEBUG [codedeploy-agent(4242)]: octokit="GET /repos"\n',
    );
  });

  it('writes an error as its type and message with its own fields; the stack only for fatal or at debug', () => {
    const { logger, lines } = capture({ level: 'info' });
    const err = new AgentError(ErrorCodes.CONFIG_INVALID, 'bad\nconfig', { details: { path: '/etc/x.yml' } });
    logger.error({ err }, 'Could not load');
    logger.fatal({ err }, 'Could not start');
    expect(lines[0]).toMatch(/^\S+ ERROR \[codedeploy-agent\(\d+\)\]: Could not load err="AgentError: bad\\nconfig" /);
    expect(lines[0]).toContain(' err.code=CDA_ERR_CONFIG_INVALID');
    expect(lines[0]).toContain(' err.details={"path":"/etc/x.yml"}');
    expect(lines[0]).not.toContain('err.stack=');
    const stack = /err\.stack=(".*")$/.exec((lines[1] ?? '').trimEnd())?.[1];
    expect(JSON.parse(stack ?? '""')).toContain('agent-log-format.test.ts');
    for (const line of lines) expect(line.split('\n')).toHaveLength(2);

    const debug = capture({ level: 'debug' });
    debug.logger.warn({ err: new Error('flaky') }, 'retrying');
    expect(debug.lines[0]).toContain(' err="Error: flaky" err.stack="Error: flaky\\n    at ');
    // A string under err (some call sites log only the message) stays a plain field.
    debug.logger.debug({ err: 'ECONNREFUSED' }, 'IMDS down');
    expect(debug.lines[1]).toMatch(/: IMDS down err=ECONNREFUSED\n$/);
  });

  it('uses local time, the logging process pid and the program name; a pid field stays a field', () => {
    const { logger, lines } = capture({ name: 'codedeploy-local' });
    const before = Date.now();
    logger.info({ pid: 99999 }, 'hello');
    const after = Date.now();
    const m = LINE.exec((lines[0] ?? '').trimEnd());
    expect(m?.slice(2)).toEqual(['INFO ', 'codedeploy-local', String(process.pid), 'hello pid=99999']);
    const at = Date.parse(`${m?.[1]}+05:30`);
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(at).toBeLessThanOrEqual(after);
  });

  it('keeps a line that is not a pino JSON object instead of losing it', () => {
    expect(f.formatJsonLine('not json\n')).toMatch(/ INFO {2}\[codedeploy-agent\(4242\)\]: not json\n$/);
  });
});

describe('redaction', () => {
  const secrets = { accessKeyId: 'AKIDLEAK', secretAccessKey: 'SECRETLEAK', sessionToken: 'TOKENLEAK' };
  it.each(['text', 'json'] as const)('keeps credentials and tokens out of the %s file', async (format) => {
    const file = join(await tempDir(), 'codedeploy-agent.log');
    const log = createFileAgentLog({ file, format, level: 'debug' });
    log.logger.info(
      { credentials: secrets, gitHubAccessToken: 'ghp_LEAK', headers: { authorization: 'AWS4-HMAC-SHA256 Signature=LEAK' } },
      'calling',
    );
    log.logger.child({ token: 'CHILDLEAK' }).warn({ password: 'PWLEAK' }, 'child');
    await log.close();
    const text = await readFile(file, 'utf8');
    for (const secret of ['AKIDLEAK', 'SECRETLEAK', 'TOKENLEAK', 'ghp_LEAK', 'Signature=LEAK', 'CHILDLEAK', 'PWLEAK'])
      expect(text).not.toContain(secret);
    expect(text).toContain('[REDACTED]');
    expect(text.trim().split('\n')).toHaveLength(2);
  });
});

describe('the JSON format', () => {
  it('has level labels, an ISO time and exactly one pid', () => {
    const { logger, lines } = capture({ format: 'json', level: 'debug' });
    logger.debug('d');
    logger.info({ version: '1.0.0' }, 'Starting codedeploy-agent 1.0.0');
    logger.child({ deploymentId: 'd-1' }).error({ err: new Error('boom') }, 'failed');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.level)).toEqual(['debug', 'info', 'error']);
    for (const [i, line] of lines.entries()) {
      expect(line.match(/"pid":/g)).toHaveLength(1);
      expect(records[i]).toMatchObject({ pid: process.pid, hostname: hostname(), name: 'codedeploy-agent' });
      expect(String(records[i]?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(records[2]).toMatchObject({ deploymentId: 'd-1', msg: 'failed', err: { message: 'boom', type: 'Error' } });
  });
});

describe('the log file', () => {
  it('is text by default and loses no record across rotations and close', async () => {
    const dir = await tempDir();
    const file = join(dir, 'codedeploy-agent.log');
    const log = createRotatingAgentLog({ file, rotation: { maxBytes: 2000, keep: 50 } });
    for (let i = 0; i < 200; i++) log.logger.info({ i }, `line ${i} ${'x'.repeat(40)}`);
    log.logger.info('the last record before close');
    await log.close();
    const files = (await readdir(dir)).filter((f) => f.startsWith('codedeploy-agent.log'));
    expect(files.length).toBeGreaterThan(5);
    const all: string[] = [];
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2000);
      all.push(...text.split('\n').filter(Boolean));
    }
    for (const line of all) expect(line).toMatch(LINE);
    const numbers = all.map((l) => / i=(\d+)$/.exec(l)?.[1]).filter((n) => n !== undefined);
    expect(numbers.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect((await readFile(file, 'utf8')).trimEnd().endsWith(': the last record before close')).toBe(true);
  });

  it('is JSON lines with :log_format: json', async () => {
    const file = join(await tempDir(), 'codedeploy-local.log');
    const log = createFileAgentLog({ file, name: 'codedeploy-local', format: 'json' });
    log.logger.warn({ event: 'BeforeInstall' }, 'slow');
    await log.close();
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({
      level: 'warn',
      name: 'codedeploy-local',
      event: 'BeforeInstall',
      msg: 'slow',
    });
  });
});

describe('the :log_format: key', () => {
  const parse = (text: string) => parseAgentConfig(text, '/etc/codedeploy-agent/conf/codedeployagent.yml');
  it('defaults to text and takes text or json', () => {
    expect(parse('').config.logFormat).toBe('text');
    expect(parse(':log_format: json\n').config.logFormat).toBe('json');
    expect(parse('log_format: JSON\n').config.logFormat).toBe('json');
    expect(parse(':log_format: text\n').config.logFormat).toBe('text');
    expect(parse(':log_format:\n').config.logFormat).toBe('text');
  });

  it('rejects anything else with the official message', () => {
    expect(() => parse(':log_format: xml\n')).toThrow(
      'An error occurred loading the CodeDeploy agent config file at /etc/codedeploy-agent/conf/codedeployagent.yml. Error message: :log_format: must be text or json, not "xml"',
    );
    expect(() => parse(':log_format: true\n')).toThrow(':log_format: must be text or json, not true');
  });
});
