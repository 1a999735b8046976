import { readFile } from 'node:fs/promises';
import * as https from 'node:https';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runControlPlaneCli } from '../../../../control-plane/cli/control-plane-command.js';
import { endpointBannerLines, readEndpointFlags } from '../../../../control-plane/cli/endpoint-flags.js';
import type { ControlPlane } from '../../../../control-plane/server.js';
import { tempDir } from '../../../helpers/temp.js';

describe('--tls and --s3-endpoint flags', () => {
  it('reads them into control plane options', () => {
    expect(readEndpointFlags({})).toEqual({});
    expect(readEndpointFlags({ tls: true, 'tls-name': ['control-plane', '10.0.0.2'] })).toEqual({
      tls: true,
      tlsNames: ['control-plane', '10.0.0.2'],
    });
    expect(readEndpointFlags({ 'tls-cert': 'c.pem', 'tls-key': 'k.pem' })).toEqual({
      tls: true,
      tlsCertFile: resolve('c.pem'),
      tlsKeyFile: resolve('k.pem'),
    });
    expect(readEndpointFlags({ 's3-endpoint': 'http://minio:9000/', 's3-access-key-id': 'id', 's3-secret-access-key': 'secret' })).toEqual({
      s3Endpoint: 'http://minio:9000',
      s3Credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
  });

  it.each([
    [{ 'tls-cert': 'c.pem' }, '--tls-cert and --tls-key go together'],
    [{ 'tls-name': ['cp'] }, '--tls-name needs --tls'],
    [{ tls: true, 'tls-name': ['under_score'] }, '--tls-name "under_score" is neither an IP address nor a DNS name'],
    [{ 'tls-cert': 'c', 'tls-key': 'k', 'tls-name': ['cp'] }, 'with --tls-cert, put the names in your certificate'],
    [{ 's3-endpoint': 'minio:9000' }, '--s3-endpoint must be an http:// or https:// URL'],
    [{ 's3-endpoint': 'not a url' }, '--s3-endpoint must be a URL'],
    [{ 's3-endpoint': 'http://m', 's3-access-key-id': 'id' }, 'go together'],
    [{ 's3-access-key-id': 'id', 's3-secret-access-key': 's' }, '--s3-access-key-id is for --s3-endpoint'],
  ])('refuses %j', (values, message) => {
    const out = readEndpointFlags(values);
    expect('error' in out && out.error).toContain(message);
  });

  it('tells agents and the aws CLI about the CA bundle and the S3 endpoint', () => {
    const base = { url: 'https://127.0.0.1:8443', caCertificatePath: '/d/ca/ca.pem', s3EndpointForAgents: 'http://minio:9000' };
    const tls = endpointBannerLines({ ...base, tls: { certificatePath: '/d/tls/server.pem', caBundlePath: '/d/ca/ca.pem' } }).join('\n');
    expect(tls).toContain(':s3_endpoint_override: http://minio:9000');
    expect(tls).toContain(':ca_bundle: /d/ca/ca.pem');
    expect(tls).toContain('aws deploy list-applications --endpoint-url https://127.0.0.1:8443 --ca-bundle /d/ca/ca.pem');
    expect(tls).toContain('AWS_CA_BUNDLE=/d/ca/ca.pem');
    const given = endpointBannerLines({ ...base, tls: { certificatePath: '/etc/cp.pem' } }).join('\n');
    expect(given).toContain(':ca_bundle: <the CA file that issued /etc/cp.pem>');
    const plain = endpointBannerLines({ ...base, url: 'http://127.0.0.1:8080' }).join('\n');
    expect(plain).not.toContain('ca_bundle');
    expect(plain).not.toContain('--ca-bundle');
  });

  it('starts over HTTPS from the command line and prints what to trust', async () => {
    const dataDir = join(await tempDir('cda-cp-tls-cli-'), 'data');
    let stderr = '';
    let stop: (signal: string) => void = () => undefined;
    let health: Promise<number | undefined> | undefined;
    let listening: ControlPlane | undefined;
    const code = await runControlPlaneCli(
      ['--data-dir', dataDir, '--port', '0', '--tls', '--tls-name', 'control-plane', '--log-level', 'silent'],
      {
        io: { stdout: () => undefined, stderr: (t) => void (stderr += t) },
        env: {},
        stopSignal: new Promise((r) => (stop = r)),
        onListening: (cp) => {
          listening = cp;
          health = readFile(join(dataDir, 'ca', 'ca.pem'), 'utf8')
            .then(
              (ca) =>
                new Promise<number | undefined>((done, fail) =>
                  https.get(`${cp.url}/_health`, { ca }, (res) => (res.resume(), done(res.statusCode))).on('error', fail),
                ),
            )
            .finally(() => stop('test'));
        },
      },
    );
    expect(code).toBe(0);
    expect(await health).toBe(200);
    expect(listening?.url).toMatch(/^https:/);
    expect(stderr).toContain(`:ca_bundle: ${join(dataDir, 'ca', 'ca.pem')}`);
    expect(stderr).toContain(`--ca-bundle ${join(dataDir, 'ca', 'ca.pem')}`);
  });
});
