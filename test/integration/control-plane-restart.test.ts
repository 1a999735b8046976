/**
 * The control plane restarted in the middle of a deployment (same data dir, same port): the
 * agent's completion arrives at the new process, which continues the deployment from SQLite.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateDeploymentCommand, GetDeploymentCommand, ListApplicationsCommand } from '@aws-sdk/client-codedeploy';
import { afterAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import { clients, createAppAndGroup, readProof, s3Revision, startFleet, startTestControlPlane, uploadFleetApp, type TestFleet } from '../helpers/control-plane.js';
import { tempDir } from '../helpers/temp.js';

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
    const { deploymentId } = await sdk.deploy.send(new CreateDeploymentCommand({ applicationName: 'FleetApp', deploymentGroupName: 'restart', revision: s3Revision(rev) }));

    // Both hosts are inside ApplicationStart, held.
    const end = Date.now() + 60_000;
    for (;;) {
      const held = (await readProof(fleet.proofFile)).filter((r) => r.deploymentId === deploymentId && r.event === 'ApplicationStart' && r.phase === 'start');
      if (held.length === 2) break;
      if (Date.now() > end) throw new Error('hosts never reached ApplicationStart');
      await new Promise((r) => setTimeout(r, 100));
    }
    await cp.close();
    cp = undefined;
    await new Promise((r) => setTimeout(r, 500));
    cp = await startTestControlPlane({ dataDir, port });
    sdk = clients(cp);
    // Nothing was lost: the application and the in-progress deployment are there.
    expect((await sdk.deploy.send(new ListApplicationsCommand({}))).applications).toContain('FleetApp');
    expect((await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status).toBe('InProgress');
    await rm(holdFile);

    const deadline = Date.now() + 90_000;
    let status: string | undefined;
    for (;;) {
      status = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
      if (status === 'Succeeded' || status === 'Failed' || status === 'Stopped') break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('Succeeded');
    const records = await readProof(fleet.proofFile);
    for (const host of ['host-1', 'host-2']) {
      expect(records.some((r) => r.deploymentId === deploymentId && r.host === host && r.event === 'ValidateService' && r.phase === 'end')).toBe(true);
    }
  });
});
