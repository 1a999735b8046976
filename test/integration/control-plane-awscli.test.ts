/**
 * The Debian awscli package (v2, /usr/bin/aws; .ci/run installs it) drives the local control
 * plane through test/awscli/deploy-with-aws-cli.sh: s3 mb/cp, deploy create-application,
 * create-deployment-group, register-on-premises-instance, create-deployment --s3-location, and
 * get-deployment until Succeeded, all with --endpoint-url. Skipped where /usr/bin/aws is absent.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import { createFleetAgent, type FleetAgent } from '../../scripts/lib/local-fleet.js';
import { FLEET_APP, startTestControlPlane } from '../helpers/control-plane.js';
import { tempDir } from '../helpers/temp.js';

const AWS = '/usr/bin/aws';
const SCRIPT = join(import.meta.dirname, '..', 'awscli', 'deploy-with-aws-cli.sh');

describe.skipIf(!existsSync(AWS))('the aws CLI v2 against the local control plane', () => {
  let cp: ControlPlane | undefined;
  let agent: FleetAgent | undefined;
  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
  });

  it('creates everything and deploys an S3 revision to a real agent', async () => {
    cp = await startTestControlPlane();
    const home = await tempDir('cda-awscli-home-');
    agent = await createFleetAgent({
      name: 'host-cli',
      controlPlaneUrl: cp.url,
      caCertificatePath: cp.caCertificatePath,
      root: home,
      env: { FLEET_HOST: 'host-cli', FLEET_PROOF: join(home, 'proof.log'), HOOK_SLEEP_SECONDS: '0' },
    });
    agent.start();
    const bundle = join(home, 'app.tgz');
    await tar.c({ gzip: true, file: bundle, cwd: FLEET_APP, portable: true }, ['.']);
    const { stdout, stderr } = await promisify(execFile)(SCRIPT, [cp.url, bundle, agent.name, agent.iamUserArn], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        AWS_ACCESS_KEY_ID: 'AKIDLOCALCLI',
        AWS_SECRET_ACCESS_KEY: 'local-cli-secret',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      timeout: 180_000,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}\nagent:\n${agent?.stderr() ?? ''}`);
    });
    expect(stdout).toMatch(/^deployment d-[A-Z0-9]{9} Succeeded$/m);
    expect(stderr).toContain('+ aws deploy create-deployment');
    expect(await readFile(join(agent.root, 'agent-home', 'fleet-app', 'version.txt'), 'utf8')).toBe('fleet app v1\n');
  });
});
