/**
 * The control plane restarted in the middle of a deployment (same data dir, same port): the
 * agent's completion arrives at the new process, which continues the deployment from SQLite.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateDeploymentCommand, GetDeploymentCommand, ListApplicationsCommand } from '@aws-sdk/client-codedeploy';
import { afterAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import {
  clients,
  createAppAndGroup,
  readProof,
  s3Revision,
  startFleet,
  startTestControlPlane,
  uploadFleetApp,
  type TestFleet,
} from '../helpers/control-plane.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

describe('control plane restart mid-deployment', () => {
  let cp: ControlPlane | undefined;
  let fleet: TestFleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
  });

  it('finishes the deployment after a restart on the same data dir', async () => {
    const dataDir = join(await tempDir('cda-cp-restart-'), 'data');
    cp = await startTestControlPlane({ dataDir });
    const port = cp.port;
    let sdk = clients(cp);
    await createAppAndGroup(sdk.deploy, { group: 'restart', config: 'CodeDeployDefault.AllAtOnce', tag: 'restart' });
    const holdFile = join(await tempDir('cda-hold-'), 'hold');
    await writeFile(holdFile, 'hold');
    fleet = await startFleet(cp, sdk.deploy, 2, { tag: 'restart', env: { HOOK_SLEEP_SECONDS: '0.1', HOLD_FILE: holdFile } });
    const rev = await uploadFleetApp(sdk.s3, { version: 'restart' });
    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({ applicationName: 'FleetApp', deploymentGroupName: 'restart', revision: s3Revision(rev) }),
    );

    // Both hosts are inside ApplicationStart, held.
    const proofFile = fleet.proofFile;
    const held = async () =>
      (await readProof(proofFile)).filter((r) => r.deploymentId === deploymentId && r.event === 'ApplicationStart' && r.phase === 'start')
        .length;
    await expect.poll(held, { timeout: 60_000, interval: 100, message: 'hosts held in ApplicationStart' }).toBe(2);
    await cp.close();
    cp = undefined;
    await new Promise((r) => setTimeout(r, 500));
    cp = await startTestControlPlane({ dataDir, port });
    sdk = clients(cp);
    // Nothing was lost: the application and the in-progress deployment are there.
    expect((await sdk.deploy.send(new ListApplicationsCommand({}))).applications).toContain('FleetApp');
    expect((await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status).toBe('InProgress');
    await rm(holdFile);

    let last: string | undefined;
    const status = await waitFor(
      'the deployment to end after the restart',
      async () => {
        last = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
        return (last === 'Succeeded' || last === 'Failed' || last === 'Stopped') && last;
      },
      { timeoutMs: 90_000, intervalMs: 250, details: () => `still ${last}` },
    );
    expect(status).toBe('Succeeded');
    const records = await readProof(fleet.proofFile);
    for (const host of ['host-1', 'host-2']) {
      expect(
        records.some((r) => r.deploymentId === deploymentId && r.host === host && r.event === 'ValidateService' && r.phase === 'end'),
      ).toBe(true);
    }
  });
});
