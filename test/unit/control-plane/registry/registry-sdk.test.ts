/**
 * The registry operations through the real AWS SDK for JavaScript, over a tiny AWS JSON 1.1 server
 * written here (POST /, X-Amz-Target, JSON or {"__type", "message"} with x-amzn-ErrorType): proves
 * the SDK parses our shapes (timestamps as epoch seconds) and maps our error codes to its classes.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AddTagsToOnPremisesInstancesCommand,
  ApplicationDoesNotExistException,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentConfigCommand,
  GetDeploymentGroupCommand,
  GetOnPremisesInstanceCommand,
  ListOnPremisesInstancesCommand,
  RegisterOnPremisesInstanceCommand,
} from '@aws-sdk/client-codedeploy';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import { silentLogger } from '../../../helpers/temp.js';
import { registryHarness, USER_ARN } from '../registry-harness.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function serve(): Promise<{ url: string; targets: string[] }> {
  const h = registryHarness();
  const targets: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      targets.push(target);
      const answer = (status: number, body: unknown, errorType?: string) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(text);
      };
      const op = target.startsWith('CodeDeploy_20141006.') ? target.slice('CodeDeploy_20141006.'.length) : '';
      const handler = h.operations[op];
      if (req.method !== 'POST' || !handler)
        return answer(400, { __type: 'UnknownOperationException', message: target }, 'UnknownOperationException');
      try {
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        answer(200, handler(input, { signal: new AbortController().signal, log: silentLogger() }));
      } catch (err) {
        if (err instanceof ApiError) answer(err.status, { __type: err.code, message: err.message }, err.code);
        else answer(500, { __type: 'InternalFailure', message: String(err) }, 'InternalFailure');
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets };
}

describe('registry through @aws-sdk/client-codedeploy', () => {
  it('creates an application and group, registers and tags an instance, reads it back, and maps errors', async () => {
    const { url, targets } = await serve();
    const client = new CodeDeployClient({
      endpoint: url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
      maxAttempts: 1,
    });

    const app = await client.send(new CreateApplicationCommand({ applicationName: 'web', computePlatform: 'Server' }));
    expect(app.applicationId).toMatch(/^[0-9a-f-]{36}$/);
    const group = await client.send(
      new CreateDeploymentGroupCommand({
        applicationName: 'web',
        deploymentGroupName: 'prod',
        serviceRoleArn: 'arn:aws:iam::111122223333:role/cd',
        onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }],
        autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
      }),
    );
    const got = await client.send(new GetDeploymentGroupCommand({ applicationName: 'web', deploymentGroupName: 'prod' }));
    expect(got.deploymentGroupInfo).toMatchObject({
      deploymentGroupId: group.deploymentGroupId,
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
      onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }],
      deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' },
    });

    await client.send(new RegisterOnPremisesInstanceCommand({ instanceName: 'host-1', iamUserArn: USER_ARN('host-1') }));
    await client.send(new AddTagsToOnPremisesInstancesCommand({ instanceNames: ['host-1'], tags: [{ Key: 'env', Value: 'prod' }] }));
    const instance = await client.send(new GetOnPremisesInstanceCommand({ instanceName: 'host-1' }));
    expect(instance.instanceInfo?.instanceName).toBe('host-1');
    expect(instance.instanceInfo?.iamUserArn).toBe(USER_ARN('host-1'));
    expect(instance.instanceInfo?.tags).toEqual([{ Key: 'env', Value: 'prod' }]);
    expect(instance.instanceInfo?.registerTime).toBeInstanceOf(Date);
    expect(instance.instanceInfo?.registerTime?.getTime()).toBe(1_700_000_000_000);
    expect(instance.instanceInfo?.deregisterTime).toBeUndefined();
    expect((await client.send(new ListOnPremisesInstancesCommand({ registrationStatus: 'Registered' }))).instanceNames).toEqual(['host-1']);

    const config = await client.send(new GetDeploymentConfigCommand({ deploymentConfigName: 'CodeDeployDefault.OneAtATime' }));
    expect(config.deploymentConfigInfo?.minimumHealthyHosts).toEqual({ type: 'MOST_CONCURRENCY', value: 1 });
    expect(config.deploymentConfigInfo?.createTime).toBeInstanceOf(Date);

    const error = await client
      .send(new GetDeploymentGroupCommand({ applicationName: 'nope', deploymentGroupName: 'prod' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationDoesNotExistException);
    expect((error as ApplicationDoesNotExistException).message).toBe('No application found for name: nope');
    expect((error as ApplicationDoesNotExistException).$metadata.httpStatusCode).toBe(400);
    expect(targets).toContain('CodeDeploy_20141006.AddTagsToOnPremisesInstances');
  });
});
