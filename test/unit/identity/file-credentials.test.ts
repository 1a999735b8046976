import { rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../../agent/errors.js';
import { fileCredentialsProvider, parseIni } from '../../../agent/identity/file-credentials.js';
import { tempDir } from '../../helpers/temp.js';

function ini(keyId: string, secret: string, token?: string): string {
  return [
    '[other]',
    'aws_access_key_id = OTHER',
    'aws_secret_access_key = OTHER',
    '',
    '[default]',
    `aws_access_key_id = ${keyId}`,
    `aws_secret_access_key=${secret}`,
    ...(token ? [`aws_session_token = ${token}`] : []),
    '',
  ].join('\n');
}

async function credentialsFile(text: string): Promise<string> {
  const path = join(await tempDir(), 'credentials');
  await writeFile(path, text);
  return path;
}

describe('file credentials', () => {
  it('reads the default profile, with expiration = now + 1800 s', async () => {
    const path = await credentialsFile(ini('ASIAONE', 'secret-one', 'token-one'));
    const now = Date.parse('2030-01-01T00:00:00Z');
    const provider = fileCredentialsProvider(path, { now: () => now });
    expect(await provider()).toEqual({
      accessKeyId: 'ASIAONE',
      secretAccessKey: 'secret-one',
      sessionToken: 'token-one',
      expiration: new Date(now + 1800 * 1000),
    });
  });

  it('re-reads the file when it is rewritten in place with new keys', async () => {
    const path = await credentialsFile(ini('ASIAONE', 'secret-one', 'token-one'));
    const provider = fileCredentialsProvider(path);
    expect((await provider()).accessKeyId).toBe('ASIAONE');
    await writeFile(path, ini('ASIATWO', 'secret-two', 'token-two'));
    // Same length as before: make the mtime differ explicitly so the test cannot race the clock.
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    const second = await provider();
    expect(second).toMatchObject({ accessKeyId: 'ASIATWO', secretAccessKey: 'secret-two', sessionToken: 'token-two' });
  });

  it('re-reads the file when a rotation tool renames a new one into place', async () => {
    const path = await credentialsFile(ini('ASIAONE', 'secret-one'));
    const provider = fileCredentialsProvider(path);
    expect((await provider()).accessKeyId).toBe('ASIAONE');
    const next = `${path}.tmp`;
    await writeFile(next, ini('ASIATHREE', 'secret-three'));
    await rename(next, path);
    expect((await provider()).accessKeyId).toBe('ASIATHREE');
  });

  it('keeps the cached keys while the file is unchanged, and re-reads after refreshSeconds', async () => {
    const path = await credentialsFile(ini('ASIAONE', 'secret-one'));
    let clock = 1_000_000;
    const provider = fileCredentialsProvider(path, { now: () => clock, refreshSeconds: 60 });
    const first = await provider();
    expect(await provider()).toBe(first);
    clock += 60_000;
    const second = await provider();
    expect(second).not.toBe(first);
    expect(second.expiration).toEqual(new Date(clock + 60_000));
  });

  it('re-reads on { forceRefresh: true } even when the file looks unchanged', async () => {
    const path = await credentialsFile(ini('ASIAONE', 'secret-one'));
    const provider = fileCredentialsProvider(path);
    const first = await provider();
    expect(await provider()).toBe(first);
    const forced = await provider({ forceRefresh: true });
    expect(forced).not.toBe(first);
    expect(forced.accessKeyId).toBe('ASIAONE');
  });

  it('fails with the official message when the file is missing', async () => {
    const path = join(await tempDir(), 'nope');
    const err = await fileCredentialsProvider(path)().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).message).toBe(`Failed to load credentials from path ${path}`);
    expect((err as AgentError).code).toBe('CDA_ERR_CREDENTIALS');
  });

  it('fails with the official message when the default profile is absent or incomplete', async () => {
    const noDefault = await credentialsFile('[other]\naws_access_key_id = A\naws_secret_access_key = B\n');
    await expect(fileCredentialsProvider(noDefault)()).rejects.toThrow(`Failed to load credentials from path ${noDefault}`);
    const noSecret = await credentialsFile('[default]\naws_access_key_id = A\n');
    await expect(fileCredentialsProvider(noSecret)()).rejects.toThrow(`Failed to load credentials from path ${noSecret}`);
  });

  it('fails once the file disappears after a successful load', async () => {
    const path = await credentialsFile(ini('ASIAONE', 'secret-one'));
    const provider = fileCredentialsProvider(path);
    await provider();
    await rm(path);
    await expect(provider()).rejects.toThrow(`Failed to load credentials from path ${path}`);
  });

  it('parses INI comments, inline comments, CRLF and nested settings', () => {
    const sections = parseIni(
      '# top comment\r\n[default]\r\n; another\r\naws_access_key_id = AKIA # inline\r\nAWS_Secret_Access_Key=abc=def\r\ns3 =\r\n  max_concurrent_requests = 5\r\n',
    );
    expect(Object.fromEntries(sections.get('default') ?? [])).toEqual({
      aws_access_key_id: 'AKIA',
      aws_secret_access_key: 'abc=def',
      s3: '',
    });
  });
});
