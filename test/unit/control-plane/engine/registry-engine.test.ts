/**
 * The registry under the real deployment engine, on one database: groups, configs and instances
 * made through the registry operations become the engine's targets, agents are found by their IAM
 * ARN, and the engine's reports land on the group and the revision list.
 */
import { describe, expect, it } from 'vitest';
import { createDeploymentOperations } from '../../../../control-plane/api/deployment-operations.js';
import { createCommandsOperations } from '../../../../control-plane/commands/commands-api.js';
import { createUnknownHostLog } from '../../../../control-plane/commands/unknown-hosts.js';
import { createDeploymentEngine } from '../../../../control-plane/engine/deployment-engine.js';
import type { PolledHostCommand } from '../../../../control-plane/engine/engine.js';
import type { DeploymentGroupInfo, RevisionLocation } from '../../../../control-plane/model.js';
import type { SpecSigner } from '../../../../control-plane/signing/spec-signer.js';
import { silentLogger } from '../../../helpers/temp.js';
import { registryHarness, seeded, USER_ARN } from '../registry-harness.js';

const signer: SpecSigner = {
  sign: async (json: string) => `SIGNED:${json}`,
  caCertificatePem: '',
  caCertificatePath: '/nonexistent/ca.pem',
};
const revision: RevisionLocation = {
  revisionType: 'S3',
  s3Location: { bucket: 'releases', key: 'app.zip', bundleType: 'zip', eTag: 'e1' },
};

describe('registry with the deployment engine', () => {
  it('deploys to the tagged instances and records the outcome on the group and revision', async () => {
    const h = registryHarness();
    seeded(h, {
      'host-1': [{ Key: 'env', Value: 'prod' }],
      'host-2': [{ Key: 'env', Value: 'prod' }],
      'host-3': [{ Key: 'env', Value: 'dev' }],
    });
    h.call('UpdateDeploymentGroup', {
      applicationName: 'web',
      currentDeploymentGroupName: 'prod',
      deploymentConfigName: 'CodeDeployDefault.AllAtOnce',
    });
    const parts = createDeploymentEngine({
      db: h.db,
      registry: h.registry,
      signer,
      identity: { region: 'eu-west-1', accountId: '111122223333' },
      logger: silentLogger(),
      clock: () => h.clock.now,
    });
    const rc = { signal: new AbortController().signal, log: silentLogger() };
    const deploy = createDeploymentOperations(parts);
    const commands = createCommandsOperations(parts, {
      unknownHosts: createUnknownHostLog({ logger: silentLogger() }),
      longPollSeconds: 0,
    });
    const { deploymentId } = (await deploy.CreateDeployment?.({ applicationName: 'web', deploymentGroupName: 'prod', revision }, rc)) as {
      deploymentId: string;
    };
    parts.engine.tick();
    expect(parts.engine.listTargets(deploymentId).map((t) => t.targetId)).toEqual(['host-1', 'host-2']);

    for (let progress = true; progress;) {
      progress = false;
      for (const host of ['host-1', 'host-2', 'host-3']) {
        const out = (await commands.PollHostCommand?.({ HostIdentifier: USER_ARN(host) }, rc)) as { HostCommand?: PolledHostCommand };
        const cmd = out.HostCommand;
        if (!cmd) continue;
        expect(host).not.toBe('host-3');
        progress = true;
        await commands.PutHostCommandAcknowledgement?.(
          { HostCommandIdentifier: cmd.HostCommandIdentifier, Diagnostics: { Format: 'JSON', Payload: '{"IsCommandNoop":false}' } },
          rc,
        );
        h.clock.now += 1000;
        await commands.PutHostCommandComplete?.(
          {
            HostCommandIdentifier: cmd.HostCommandIdentifier,
            CommandStatus: 'Succeeded',
            Diagnostics: { Format: 'JSON', Payload: JSON.stringify({ error_code: 0, script_name: '', message: 'Succeeded', log: '' }) },
          },
          rc,
        );
      }
    }
    expect(parts.engine.getDeployment(deploymentId)?.status).toBe('Succeeded');
    const group = h.call('GetDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'prod' })
      .deploymentGroupInfo as DeploymentGroupInfo;
    expect(group.lastSuccessfulDeployment).toMatchObject({ deploymentId, status: 'Succeeded' });
    expect(group.lastAttemptedDeployment).toMatchObject({ deploymentId, status: 'Succeeded' });
    expect(group.targetRevision).toEqual(revision);
    const got = h.call('GetApplicationRevision', { applicationName: 'web', revision });
    expect(got.revisionInfo).toMatchObject({ deploymentGroups: ['prod'], firstUsedTime: 1_700_000_000 });
    expect(h.call('ListApplicationRevisions', { applicationName: 'web', deployed: 'include' }).revisions).toEqual([revision]);
    parts.close();
  });
});
