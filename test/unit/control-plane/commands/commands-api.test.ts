import { describe, expect, it } from 'vitest';
import { parseDeploymentSpecAsync } from '../../../../agent/spec/deployment-spec.js';
import { createPkcs7Verifier } from '../../../../agent/spec/pkcs7-verifier.js';
import type { PolledHostCommand } from '../../../../control-plane/engine/engine.js';
import type { SpecSigner } from '../../../../control-plane/signing/spec-signer.js';
import { sharedSpecSigner } from '../../../helpers/spec-signer.js';
import { createDeploymentEngine } from '../../../../control-plane/engine/deployment-engine.js';
import { openDatabase } from '../../../../control-plane/store/database.js';
import { captureLogger, silentLogger } from '../../../helpers/temp.js';
import { FakeRegistry, createHarness, fakeSigner, hostArn, requestContext, s3Revision, type Harness } from '../fake-registry.js';

const deploy = (h: Harness, revision = s3Revision()) =>
  h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision }).deploymentId;

async function call(h: Harness, op: string, input: Record<string, unknown>, ctx = requestContext()): Promise<Record<string, unknown>> {
  const handler = h.commandsOperations[op];
  if (!handler) throw new Error(`no ${op}`);
  return (await handler(input, ctx)) as Record<string, unknown>;
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<{ code?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('PollHostCommand', () => {
  it('hands out a command once, with the wire shape and an execution id within the model limits', async () => {
    const h = createHarness({ hosts: 1 });
    const id = deploy(h);
    const out = await call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-01') });
    const cmd = out.HostCommand as PolledHostCommand;
    expect(Object.keys(cmd).sort()).toEqual(['CommandName', 'DeploymentExecutionId', 'HostCommandIdentifier', 'HostIdentifier', 'Nonce']);
    expect(cmd).toMatchObject({ CommandName: 'BeforeBlockTraffic', HostIdentifier: hostArn('host-01') });
    expect(cmd.DeploymentExecutionId).toBe(`CodeDeploy/us-east-1/local/arn:aws:codedeploy:us-east-1:000000000000:deployment/${id}`);
    expect(cmd.DeploymentExecutionId).toMatch(/^[^/]+\/[^/]+\/[^/]+\/.+$/);
    expect(cmd.DeploymentExecutionId.length).toBeLessThanOrEqual(129);
    expect(cmd.HostCommandIdentifier).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // Dispatched: not handed out again; the event is InProgress.
    expect(await call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-01') })).toEqual({});
    expect(h.engine.listTargets(id)[0]?.lifecycleEvents[0]).toMatchObject({ status: 'InProgress', startTime: h.clock.now / 1000 });
    await h.ack(cmd);
    await h.complete(cmd, true);
    const next = await h.poll('host-01');
    expect(next?.CommandName).toBe('AfterBlockTraffic');
    expect(next?.Nonce).toBeGreaterThan(cmd.Nonce);
  });

  it('requires HostIdentifier', async () => {
    const h = createHarness({ hosts: 1 });
    expect(await rejection(call(h, 'PollHostCommand', {}))).toMatchObject({
      code: 'ClientException',
      message: 'HostIdentifier is required.',
    });
  });

  it('waits up to longPollSeconds, answering {} when nothing comes', async () => {
    const h = createHarness({ hosts: 1, longPollSeconds: 0.3 });
    const started = Date.now();
    expect(await call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-01') })).toEqual({});
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('returns as soon as a command is dispatched to the host', async () => {
    const h = createHarness({ hosts: 1, longPollSeconds: 5 });
    const started = Date.now();
    const polling = call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-01') });
    setTimeout(() => deploy(h), 50);
    const out = await polling;
    expect((out.HostCommand as PolledHostCommand).CommandName).toBe('BeforeBlockTraffic');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a waiting poll is woken by the next command of its host after a completion', async () => {
    const h = createHarness({ hosts: 1, longPollSeconds: 5 });
    deploy(h);
    const first = await h.poll('host-01');
    if (!first) throw new Error('no command');
    const started = Date.now();
    const polling = h.poll('host-01');
    await h.ack(first);
    setTimeout(() => void h.complete(first, true), 50);
    expect((await polling)?.CommandName).toBe('AfterBlockTraffic');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ends early on abort and on close', async () => {
    const h = createHarness({ hosts: 2, longPollSeconds: 5 });
    const abort = new AbortController();
    const started = Date.now();
    const aborted = call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-01') }, requestContext({ signal: abort.signal }));
    const closing = call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-02') });
    setTimeout(() => abort.abort(), 50);
    expect(await aborted).toEqual({});
    setTimeout(() => h.close(), 20);
    expect(await closing).toEqual({});
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('hands a command to a host registered while its poll was already waiting', async () => {
    const h = createHarness({ hosts: 1, longPollSeconds: 10 });
    const started = Date.now();
    const waiting = call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-02') });
    await new Promise((r) => setTimeout(r, 100));
    h.registry.addInstance('host-02');
    h.engine.createDeployment({
      applicationName: 'web',
      deploymentGroupName: 'prod',
      revision: s3Revision(),
      deploymentConfigName: 'CodeDeployDefault.AllAtOnce',
    });
    const answer = (await waiting) as { HostCommand?: { CommandName?: string } };
    expect(answer.HostCommand?.CommandName).toBe('BeforeBlockTraffic');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('answers {} to an unknown host after the wait and says once how to register it', async () => {
    const { logger, lines } = captureLogger();
    const h = createHarness({ hosts: 1, longPollSeconds: 0.05, logger });
    const stranger = 'arn:aws:iam::123456789012:user/stranger';
    expect(await call(h, 'PollHostCommand', { HostIdentifier: stranger })).toEqual({});
    expect(await call(h, 'PollHostCommand', { HostIdentifier: stranger })).toEqual({});
    const warnings = lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`Host ${stranger} is not a registered`));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe(
      `Host ${stranger} is not a registered on-premises instance; register it with: aws deploy register-on-premises-instance --instance-name stranger --iam-user-arn ${stranger}`,
    );
    expect(warnings[0]?.level).toBe(40);
    expect(h.engine.hostSeen(stranger)).toBeUndefined();
  });
});

describe('DeploymentExecutionId', () => {
  it('an identity whose execution ids would break the 129-character limit is refused at start', () => {
    expect(() =>
      createDeploymentEngine({
        db: openDatabase(':memory:'),
        registry: new FakeRegistry(),
        signer: fakeSigner(),
        identity: { region: 'r'.repeat(40), accountId: '000000000000' },
        logger: silentLogger(),
      }),
    ).toThrow(/at most 129 characters/);
  });
});

describe('acknowledgements, completions and updates', () => {
  it('reports command status through ack, update and complete, and records last seen with the agent version', async () => {
    const h = createHarness({ hosts: 1 });
    deploy(h);
    const cmd = (await call(h, 'PollHostCommand', { HostIdentifier: hostArn('host-01') }, requestContext({ packageVersion: 'TS_0.1.0' })))
      .HostCommand as PolledHostCommand;
    expect(h.engine.hostSeen(hostArn('host-01'))).toEqual({
      hostIdentifier: hostArn('host-01'),
      lastSeen: h.clock.now / 1000,
      packageVersion: 'TS_0.1.0',
    });
    h.clock.now += 5000;
    expect(await h.update(cmd)).toBe('InProgress');
    expect(h.engine.hostSeen(hostArn('host-01'))?.lastSeen).toBe(h.clock.now / 1000);
    expect(await h.ack(cmd)).toBe('InProgress');
    await h.complete(cmd, true);
    expect(await h.ack(cmd)).toBe('Succeeded');
    expect(await h.update(cmd)).toBe('Succeeded');
  });

  it("accepts a repeated completion and the official agent's second Failed one, keeping the first; refuses a changed result", async () => {
    const h = createHarness({ hosts: 1 });
    const id = deploy(h);
    const cmd = await h.poll('host-01');
    if (!cmd) throw new Error('no command');
    await h.ack(cmd);
    await h.complete(cmd, false, { error_code: 4, script_name: 'a.sh', message: 'failed', log: 'x' });
    await h.complete(cmd, false, { error_code: 4, script_name: 'a.sh', message: 'failed', log: 'x' });
    // The official agent follows a failure with error_code 5 and an empty log (docs/reference.md section 1.3).
    await h.complete(cmd, false, { error_code: 5, script_name: '', message: 'failed', log: '' });
    const err = await rejection(h.complete(cmd, true));
    expect(err).toMatchObject({ code: 'ClientException', message: expect.stringContaining('already completed with a different result') });
    expect(h.engine.listTargets(id)[0]?.lifecycleEvents[0]?.diagnostics).toMatchObject({
      errorCode: 'ScriptFailed',
      scriptName: 'a.sh',
      logTail: 'x',
    });
  });

  it('refuses malformed and forged identifiers, and a bad CommandStatus', async () => {
    const h = createHarness({ hosts: 1 });
    deploy(h);
    const cmd = await h.poll('host-01');
    if (!cmd) throw new Error('no command');
    for (const bad of ['not base64!', Buffer.from('{"d":1}').toString('base64'), '']) {
      expect(await rejection(() => call(h, 'PutHostCommandAcknowledgement', { HostCommandIdentifier: bad }))).toMatchObject({
        code: 'ClientException',
      });
    }
    expect(await rejection(() => call(h, 'PostHostCommandUpdate', {}))).toMatchObject({
      code: 'ClientException',
      message: expect.stringContaining('HostCommandIdentifier is required'),
    });
    const decoded = JSON.parse(Buffer.from(cmd.HostCommandIdentifier, 'base64').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...decoded, c: 'Install' })).toString('base64');
    expect(await rejection(() => call(h, 'PutHostCommandAcknowledgement', { HostCommandIdentifier: forged }))).toMatchObject({
      code: 'ClientException',
      message: expect.stringContaining('is not valid'),
    });
    expect(
      await rejection(() =>
        call(h, 'PutHostCommandComplete', {
          HostCommandIdentifier: cmd.HostCommandIdentifier,
          CommandStatus: 'Done',
          Diagnostics: { Format: 'JSON', Payload: '{}' },
        }),
      ),
    ).toMatchObject({ code: 'ClientException', message: expect.stringContaining('CommandStatus "Done"') });
    expect(
      await rejection(() =>
        call(h, 'PutHostCommandComplete', {
          HostCommandIdentifier: cmd.HostCommandIdentifier,
          CommandStatus: 'Failed',
          Diagnostics: { Format: 'JSON', Payload: 'x'.repeat(8193) },
        }),
      ),
    ).toMatchObject({ code: 'ClientException', message: expect.stringContaining('8192') });
  });
});

describe('GetDeploymentSpecification', () => {
  const specSigner = (): SpecSigner => {
    const s = sharedSpecSigner();
    return { sign: async (json) => s.sign(json), caCertificatePem: s.caCertPem, caCertificatePath: s.caCertPath };
  };

  it('answers a PKCS7/JSON envelope the agent verifies and parses (S3 revision)', async () => {
    const h = createHarness({ hosts: 1, signer: specSigner() });
    const revision = {
      revisionType: 'S3' as const,
      s3Location: { bucket: 'releases', key: 'web/app-1.2.tgz', bundleType: 'tgz' as const, version: 'v7', eTag: '"abc"' },
    };
    const id = h.engine.createDeployment({
      applicationName: 'web',
      deploymentGroupName: 'prod',
      revision,
      fileExistsBehavior: 'OVERWRITE',
    }).deploymentId;
    const cmd = await h.poll('host-01');
    if (!cmd) throw new Error('no command');
    const out = await call(h, 'GetDeploymentSpecification', {
      DeploymentExecutionId: cmd.DeploymentExecutionId,
      HostIdentifier: hostArn('host-01'),
    });
    expect(out.DeploymentSystem).toBe('CodeDeploy');
    const envelope = (out.DeploymentSpecification as { GenericEnvelope: { Format: string; Payload: string } }).GenericEnvelope;
    expect(envelope.Format).toBe('PKCS7/JSON');
    const verify = createPkcs7Verifier({ trustedCaPem: sharedSpecSigner().caCertPem });
    const json = JSON.parse(await verify(envelope.Payload)) as Record<string, unknown>;
    expect(json).toEqual({
      DeploymentId: `arn:aws:codedeploy:us-east-1:000000000000:deployment/${id}`,
      DeploymentGroupId: 'dg-web-prod',
      DeploymentGroupName: 'prod',
      ApplicationName: 'web',
      DeploymentCreator: 'user',
      DeploymentType: 'IN_PLACE',
      AgentActionOverrides: { AgentOverrides: { FileExistsBehavior: 'OVERWRITE' } },
      Revision: {
        RevisionType: 'S3',
        S3Revision: { Bucket: 'releases', Key: 'web/app-1.2.tgz', BundleType: 'tgz', Version: 'v7', ETag: '"abc"' },
      },
    });
    const spec = await parseDeploymentSpecAsync(envelope, { allowUnsigned: false, verifyPkcs7: verify });
    expect(spec).toMatchObject({
      deploymentId: id,
      deploymentGroupId: 'dg-web-prod',
      applicationName: 'web',
      fileExistsBehavior: 'OVERWRITE',
    });
    expect(spec.revision).toEqual({
      type: 'S3',
      bucket: 'releases',
      key: 'web/app-1.2.tgz',
      bundleType: 'tgz',
      version: 'v7',
      etag: '"abc"',
    });
  });

  it('splits a GitHub repository into Account and Repository, signs once per deployment', async () => {
    const signer = fakeSigner();
    const h = createHarness({ hosts: 2, config: 'CodeDeployDefault.AllAtOnce', signer });
    deploy(h, {
      revisionType: 'GitHub',
      gitHubLocation: { repository: 'acme/web-app', commitId: '0123456789abcdef0123456789abcdef01234567' },
    });
    const one = await h.poll('host-01');
    const two = await h.poll('host-02');
    if (!one || !two) throw new Error('no command');
    const get = (host: string, executionId: string) =>
      call(h, 'GetDeploymentSpecification', { DeploymentExecutionId: executionId, HostIdentifier: hostArn(host) });
    const [a, b] = await Promise.all([get('host-01', one.DeploymentExecutionId), get('host-02', two.DeploymentExecutionId)]);
    await get('host-01', one.DeploymentExecutionId);
    expect(signer.signed).toHaveLength(1);
    expect(a).toEqual(b);
    const json = JSON.parse(signer.signed[0] as string) as { Revision: unknown };
    expect(json.Revision).toEqual({
      RevisionType: 'GitHub',
      GitHubRevision: { Account: 'acme', Repository: 'web-app', CommitId: '0123456789abcdef0123456789abcdef01234567', BundleType: 'tar' },
    });
  });

  it('names codeDeployRollback as the creator of a rollback', async () => {
    const signer = fakeSigner();
    const h = createHarness({ hosts: 1, signer, autoRollback: { enabled: true, events: ['DEPLOYMENT_FAILURE'] } });
    deploy(h);
    await h.drive();
    const bad = deploy(h, s3Revision('v2.zip'));
    const failing = await h.poll('host-01');
    if (!failing) throw new Error('no command');
    await h.complete(failing, false);
    const rollbackId = h.engine.getDeployment(bad)?.rollbackInfo?.rollbackDeploymentId as string;
    expect(rollbackId).toBeDefined();
    const cmd = await h.poll('host-01');
    expect(cmd?.DeploymentExecutionId).toContain(rollbackId);
    await call(h, 'GetDeploymentSpecification', { DeploymentExecutionId: cmd?.DeploymentExecutionId, HostIdentifier: hostArn('host-01') });
    expect(JSON.parse(signer.signed[signer.signed.length - 1] as string)).toMatchObject({
      DeploymentCreator: 'codeDeployRollback',
      Revision: { S3Revision: { Key: 'app-v1.zip' } },
    });
  });

  it('refuses unknown executions and hosts that are not targets', async () => {
    const h = createHarness({ hosts: 1 });
    h.registry.addInstance('other', [{ Key: 'env', Value: 'test' }]);
    deploy(h);
    const cmd = await h.poll('host-01');
    if (!cmd) throw new Error('no command');
    const get = (executionId: string, host: string) =>
      call(h, 'GetDeploymentSpecification', { DeploymentExecutionId: executionId, HostIdentifier: host });
    expect(
      await rejection(
        get('CodeDeploy/us-east-1/local/arn:aws:codedeploy:us-east-1:000000000000:deployment/d-NOSUCH000', hostArn('host-01')),
      ),
    ).toMatchObject({ code: 'DeploymentNotFoundException' });
    expect(await rejection(get('a/b/c/not-ours', hostArn('host-01')))).toMatchObject({ code: 'DeploymentNotFoundException' });
    // Outside the model's constraint (^[^/]+/[^/]+/[^/]+/.+$, at most 129 characters): the model's ClientException.
    expect(await rejection(get('garbage', hostArn('host-01')))).toMatchObject({ code: 'ClientException' });
    expect(await rejection(get(`a/b/c/${'x'.repeat(200)}`, hostArn('host-01')))).toMatchObject({ code: 'ClientException' });
    expect(await rejection(get(cmd.DeploymentExecutionId, hostArn('other')))).toMatchObject({ code: 'HostNotFoundException' });
    expect(await rejection(get(cmd.DeploymentExecutionId, 'arn:aws:iam::1:user/nobody'))).toMatchObject({ code: 'HostNotFoundException' });
    expect(await rejection(() => call(h, 'GetDeploymentSpecification', { HostIdentifier: hostArn('host-01') }))).toMatchObject({
      code: 'ClientException',
      message: 'DeploymentExecutionId is required.',
    });
  });
});
