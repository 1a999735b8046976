import { describe, expect, it } from 'vitest';
import type { NewDeployment } from '../../../../control-plane/engine/engine.js';
import { createRevisionPinner } from '../../../../control-plane/revisions/revision-pinning.js';
import type { ObjectHead, S3ObjectLookup } from '../../../../control-plane/revisions/s3-object-lookup.js';
import { captureLogger } from '../../../helpers/temp.js';

/** A lookup over a fixed table of "bucket/key[@version]" -> head, recording its calls. */
function fakeLookup(objects: Record<string, { versionId?: string; eTag: string }>, fail?: Error) {
  const calls: string[] = [];
  const lookup: S3ObjectLookup = {
    where: 'the test store',
    async head(bucket, key, versionId): Promise<ObjectHead> {
      const name = `${bucket}/${key}${versionId ? `@${versionId}` : ''}`;
      calls.push(name);
      if (fail) throw fail;
      const found = objects[name];
      return found ? { found: true, ...found } : { found: false, why: `there is no object ${key} in bucket ${bucket}` };
    },
    close() {},
  };
  return { lookup, calls };
}

const registry = {
  getApplication: (name: string) => (name === 'app' ? ({ applicationName: 'app' } as never) : undefined),
  getDeploymentGroup: (app: string, group: string) =>
    app === 'app' && group === 'dg' ? ({ deploymentGroupName: 'dg' } as never) : undefined,
};

const request = (s3: Record<string, string>, extra: Partial<NewDeployment> = {}): NewDeployment => ({
  applicationName: 'app',
  deploymentGroupName: 'dg',
  revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'k.tgz', bundleType: 'tgz', ...s3 } },
  ...extra,
});

const OBJECTS = { 'b/k.tgz': { versionId: 'v2', eTag: 'e2' }, 'b/k.tgz@v1': { versionId: 'v1', eTag: 'e1' }, 'b/plain.tgz': { eTag: 'p' } };

describe('pinning S3 revisions', () => {
  it('adds the latest version and ETag when neither is given', async () => {
    const { lookup } = fakeLookup(OBJECTS);
    const pin = createRevisionPinner({ lookup, registry, logger: captureLogger().logger });
    const out = await pin(request({}));
    expect(out.revision?.s3Location).toEqual({ bucket: 'b', key: 'k.tgz', bundleType: 'tgz', version: 'v2', eTag: 'e2' });
    expect((await pin(request({ key: 'plain.tgz' }))).revision?.s3Location).toEqual({
      bucket: 'b',
      key: 'plain.tgz',
      bundleType: 'tgz',
      eTag: 'p',
    });
  });

  it('fills the ETag of a given version, and the version of a given ETag only when it is the latest', async () => {
    const { lookup, calls } = fakeLookup(OBJECTS);
    const { logger, lines } = captureLogger();
    const pin = createRevisionPinner({ lookup, registry, logger });
    expect((await pin(request({ version: 'v1' }))).revision?.s3Location).toMatchObject({ version: 'v1', eTag: 'e1' });
    expect((await pin(request({ eTag: '"e2"' }))).revision?.s3Location).toMatchObject({ version: 'v2', eTag: '"e2"' });
    const stale = request({ eTag: 'e1' });
    expect(await pin(stale)).toBe(stale);
    expect(lines().some((l) => /now has ETag e2, not the given e1/.test(String(l.msg)))).toBe(true);
    expect(calls).toEqual(['b/k.tgz@v1', 'b/k.tgz', 'b/k.tgz']);
  });

  it('leaves alone what it need not or cannot pin, without looking anything up', async () => {
    const { lookup, calls } = fakeLookup(OBJECTS);
    const pin = createRevisionPinner({ lookup, registry, logger: captureLogger().logger });
    const cases: NewDeployment[] = [
      request({ version: 'v1', eTag: 'e1' }),
      { applicationName: 'app', deploymentGroupName: 'dg' },
      { ...request({}), applicationName: 'other' },
      { ...request({}), deploymentGroupName: 'other' },
      request({ bundleType: 'rar' }),
      {
        applicationName: 'app',
        deploymentGroupName: 'dg',
        revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'o/r', commitId: 'main' } },
      },
    ];
    for (const c of cases) expect(await pin(c)).toBe(c);
    expect(calls).toEqual([]);
  });

  it('leaves a missing object unpinned with a WARN, and goes on unpinned when the store cannot be asked', async () => {
    const { lookup } = fakeLookup(OBJECTS);
    const missing = captureLogger();
    const gone = request({ key: 'gone.tgz' });
    expect(await createRevisionPinner({ lookup, registry, logger: missing.logger })(gone)).toBe(gone);
    expect(missing.lines().find((l) => l.level === 40)?.msg).toMatch(
      /s3:\/\/b\/gone.tgz is not in the test store \(there is no object gone.tgz in bucket b\)/,
    );

    const down = fakeLookup(OBJECTS, new Error('connect ECONNREFUSED 127.0.0.1:9'));
    const { logger, lines } = captureLogger();
    const unpinned = request({});
    expect(await createRevisionPinner({ lookup: down.lookup, registry, logger })(unpinned)).toBe(unpinned);
    expect(lines().find((l) => l.level === 40)?.msg).toMatch(/Could not look up s3:\/\/b\/k.tgz at the test store/);
  });
});
