/**
 * `--tls`: the control plane serves everything on its one port over HTTPS with a certificate from
 * its own CA. A real agent trusting that CA (`:ca_bundle:`) polls, fetches the signed spec and
 * downloads the S3 revision over TLS, and the deployment Succeeds; the SDK (a custom https agent),
 * the aws CLI (--ca-bundle) and add-host work; clients that do not trust the CA, and plain HTTP,
 * are refused; the connection deadlines hold for TLS sockets.
 */
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { CodeDeployClient, CreateDeploymentCommand, GetDeploymentCommand, ListApplicationsCommand } from '@aws-sdk/client-codedeploy';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import { awsCli, hasAwsCli } from '../helpers/aws-cli.js';
import { createAppAndGroup, LOCAL_CREDENTIALS, startFleet, startTestControlPlane, type TestFleet } from '../helpers/control-plane.js';
import { envDumpBundle, readHookEnv } from '../helpers/env-dump-bundle.js';
import { suiteTempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

describe('the control plane over TLS (--tls)', () => {
  let cp: ControlPlane;
  let ca: string;
  let caFile: string;
  let deploy: CodeDeployClient;
  let s3: S3Client;
  let fleet: TestFleet | undefined;

  beforeAll(async () => {
    cp = await startTestControlPlane({ tls: true, tlsNames: ['control-plane'], headersTimeoutMs: 1500 });
    caFile = cp.tls?.caBundlePath ?? '';
    ca = await readFile(caFile, 'utf8');
    const common = {
      endpoint: cp.url,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
    };
    deploy = new CodeDeployClient(common);
    s3 = new S3Client({ ...common, forcePathStyle: true });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    deploy?.destroy();
    s3?.destroy();
    await cp?.close();
  });

  it('is https, with a certificate of the CA for localhost, 127.0.0.1, ::1 and --tls-name', async () => {
    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cp.s3EndpointForAgents).toBe(cp.url);
    expect(caFile).toBe(cp.caCertificatePath);
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: cp.port, ca, servername: 'control-plane' }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(peer.subjectaltname).toBe('DNS:localhost, DNS:control-plane, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  it('runs a deployment end to end over TLS: commands API, signed spec and S3 download', async () => {
    const envDir = await suiteTempDir('cda-tls-env-');
    await s3.send(new CreateBucketCommand({ Bucket: 'tls-revisions' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'tls-revisions', Key: 'app.tgz', Body: await envDumpBundle('over-tls') }));
    const { application, group } = await createAppAndGroup(deploy, { application: 'TlsApp', group: 'tls', tag: 'tls' });
    fleet = await startFleet(cp, deploy, 1, { tag: 'tls', caBundle: caFile, env: { ENV_DUMP_DIR: envDir } });
    const config = await readFile(fleet.agents[0]!.configFile, 'utf8');
    expect(config).toContain(`:deploy_control_endpoint: ${cp.url}`);
    expect(config).toContain(`:ca_bundle: ${caFile}`);

    const { deploymentId } = await deploy.send(
      new CreateDeploymentCommand({
        applicationName: application,
        deploymentGroupName: group,
        revision: { revisionType: 'S3', s3Location: { bucket: 'tls-revisions', key: 'app.tgz', bundleType: 'tgz' } },
      }),
    );
    const info = await waitFor(
      `deployment ${deploymentId} to end`,
      async () => {
        const d = (await deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!;
        return ['Succeeded', 'Failed', 'Stopped'].includes(d.status ?? '') && d;
      },
      { timeoutMs: 60_000, intervalMs: 200, details: () => fleet?.agents[0]?.stderr().slice(-3000) ?? '' },
    );
    expect(info.status, JSON.stringify(info.errorInformation)).toBe('Succeeded');
    const env = await readHookEnv(envDir, deploymentId!);
    expect(env.BUNDLE_CONTENT).toBe('over-tls');
    expect(env.BUNDLE_ETAG).toBe(put.ETag?.replace(/"/g, ''));
    expect(env.BUNDLE_VERSION).toBe(put.VersionId);
  }, 90_000);

  it('answers SDK clients trusting the CA, and refuses those that do not', async () => {
    expect((await deploy.send(new ListApplicationsCommand({}))).applications).toContain('TlsApp');
    // Absolute URLs the control plane builds name https.
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'tls-revisions', Key: 'multi/part.bin' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: 'tls-revisions', Key: 'multi/part.bin', UploadId: upload.UploadId, PartNumber: 1, Body: 'x' }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'tls-revisions',
        Key: 'multi/part.bin',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(done.Location).toBe(`${cp.url}/tls-revisions/multi/part.bin`);
    const untrusting = new CodeDeployClient({ endpoint: cp.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    try {
      await expect(untrusting.send(new ListApplicationsCommand({}))).rejects.toMatchObject({
        code: expect.stringMatching(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/),
      });
    } finally {
      untrusting.destroy();
    }
  });

  it.skipIf(!hasAwsCli)('works with the aws CLI given --ca-bundle, and fails with a certificate error without it', async () => {
    const home = await suiteTempDir('cda-tls-aws-');
    const aws = awsCli(cp.url, home, { AWS_MAX_ATTEMPTS: '1' });
    const ok = await aws('deploy', 'list-applications', '--ca-bundle', caFile);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ applications: expect.arrayContaining(['TlsApp']) });
    const failure = await aws('deploy', 'list-applications');
    expect(failure.code).not.toBe(0);
    expect(failure.stderr).toMatch(/SSL validation failed|CERTIFICATE_VERIFY_FAILED/);
  });

  it('refuses plain HTTP on the TLS port', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get(`http://127.0.0.1:${cp.port}/_health`, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(outcome).toMatch(/ECONNRESET|EPIPE|socket hang up/);
  });

  it('closes connections that stay silent, before and after the TLS handshake', async () => {
    const closedAfter = (socket: net.Socket) =>
      new Promise<number>((resolve) => {
        const started = Date.now();
        socket.on('error', () => {});
        socket.on('close', () => resolve(Date.now() - started));
        // Flowing, so the server's close is seen ('close' waits for 'end', which waits for a reader).
        socket.resume();
      });
    const raw = net.connect(cp.port, '127.0.0.1');
    const handshaken = tls.connect({ host: '127.0.0.1', port: cp.port, ca, servername: 'localhost' });
    await new Promise<void>((resolve) => handshaken.once('secureConnect', resolve));
    const bounded = (p: Promise<number>) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(Infinity), 10_000))]);
    const [rawMs, tlsMs] = await Promise.all([bounded(closedAfter(raw)), bounded(closedAfter(handshaken))]);
    raw.destroy();
    handshaken.destroy();
    // headersTimeout is 1.5 s; Node checks every 2 s.
    expect(rawMs).toBeLessThan(5000);
    expect(tlsMs).toBeLessThan(5000);
    // The server still answers.
    const health = await new Promise<number | undefined>((resolve, reject) =>
      https.get(`${cp.url}/_health`, { ca }, (res) => (res.resume(), resolve(res.statusCode))).on('error', reject),
    );
    expect(health).toBe(200);
  });
});
