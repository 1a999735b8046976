/**
 * The streaming planner against the in-memory one it replaced (reference-plan.ts): the same
 * operations, counts and messages on thousands of generated cases built to collide (overlapping
 * files entries, symlinks where directories are expected, existing targets under every
 * file_exists_behavior, permissions matching twice). Then the real file-system ports against the
 * materialised listing and facts on a tree on disk.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatAce } from '../../../appspec/format.js';
import type { AppSpec } from '../../../appspec/model.js';
import { checkSources, createSourceTree, DestinationFacts, gatherFacts, listSources } from '../../../agent/install/fs-facts.js';
import { FilePlanner } from '../../../agent/install/file-planner.js';
import { planInstall, probePaths, type PlanInput } from '../../../agent/install/install-plan.js';
import { effectiveFileExistsBehavior, resolveMappings } from '../../../agent/install/mappings.js';
import type { CopyOp, InstallOp, InstallPlan, PathFact, SourceNode } from '../../../agent/install/operations.js';
import { permissionOps, planPermissionTargets } from '../../../agent/install/permission-plan.js';
import { tempDir } from '../../helpers/temp.js';
import { appSpec, dir, FILE, permission, SYMLINK } from './appspec-builder.js';
import { referencePlan } from './reference-plan.js';
import { seededRandom as random } from '../../helpers/seeded-random.js';

const NAMES = ['a', 'b', 'sub', 'f.txt', 'link'];
const DESTINATIONS = ['/dst', '/dst/', '/dst/a', '/dst/sub', '/dst/a/b', 'rel', 'rel/sub', '/dst/f.txt'];
const OBJECTS = ['/dst', '/dst/a', '/dst/sub', '/dst/f.txt', '/dst/a/f.txt', 'rel', '/'];
const BEHAVIORS = [undefined, 'DISALLOW', 'OVERWRITE', 'RETAIN', 'SOMETHING_ELSE'] as const;

function show(op: InstallOp): string {
  switch (op.type) {
    case 'mkdir':
      return `mkdir ${op.directory}`;
    case 'copy':
      return `copy ${op.source} -> ${op.destination} ${op.kind}${op.overwrite ? ' overwrite' : ''}`;
    case 'chmod':
      return `chmod ${op.mode.text} ${op.file} #${op.from.index}`;
    case 'setfacl':
      return `setfacl ${op.acl.map(formatAce).join(',')} ${op.file}`;
    case 'semanage':
      return `semanage ${op.context.type} ${op.file}`;
    case 'chown':
      return `chown ${op.owner ?? ''}:${op.group ?? ''}${op.noFollow ? ' lchown' : ''} ${op.file}`;
  }
}

type Outcome = { ops: string[]; retained: number; permissionTargets: number } | { error: string };

function outcome(plan: () => InstallPlan): Outcome {
  try {
    const result = plan();
    return { ops: result.ops.map(show), retained: result.retained, permissionTargets: result.permissionTargets };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function generateTree(rnd: () => number, depth: number): SourceNode {
  const entries: Array<[string, SourceNode]> = [];
  for (const name of NAMES) {
    const r = rnd();
    if (r < 0.35) continue;
    if (r < 0.65 || depth === 0) entries.push([name, r < 0.62 ? FILE : r < 0.64 ? SYMLINK : { kind: 'other' }]);
    else if (r < 0.72) entries.push([name, SYMLINK]);
    else entries.push([name, generateTree(rnd, depth - 1)]);
  }
  return dir(...entries);
}

/** Every path of a tree below `prefix` ('' is the tree itself). */
function paths(node: SourceNode, prefix: string, out: Array<[string, SourceNode]>): Array<[string, SourceNode]> {
  out.push([prefix, node]);
  if (node.kind === 'directory') for (const e of node.entries) paths(e.node, prefix === '' ? e.name : `${prefix}/${e.name}`, out);
  return out;
}

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)] as T;
}

function generateCase(seed: number): PlanInput {
  const rnd = random(seed);
  const tree = generateTree(rnd, 3);
  const all = paths(tree, '', []);
  const files: Array<[string, string]> = [];
  const count = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < count; i++) {
    const source = rnd() < 0.05 ? 'missing' : rnd() < 0.3 ? '/' : pick(rnd, all)[0] || '/';
    files.push([source, pick(rnd, DESTINATIONS)]);
  }
  const permissions = [];
  const permissionCount = Math.floor(rnd() * 3);
  for (let i = 0; i < permissionCount; i++) {
    const types = pick(rnd, [['file'], ['directory'], ['file', 'directory']] as const);
    permissions.push(
      permission({
        object: pick(rnd, OBJECTS),
        pattern: pick(rnd, ['**', '**', '*', 'f*', 'a']),
        except: rnd() < 0.2 ? ['*.txt'] : [],
        types: [...types],
        mode: pick(rnd, ['644', '4755']),
        ...(rnd() < 0.3 ? { owner: 'app' } : {}),
        ...(rnd() < 0.1 ? { acls: ['default:user:bob:rwx'] } : {}),
      }),
    );
  }
  const behavior = pick(rnd, BEHAVIORS);
  const spec: AppSpec = appSpec({
    files,
    permissions,
    ...(behavior && behavior !== 'SOMETHING_ELSE' && rnd() < 0.5 ? { fileExistsBehavior: behavior } : {}),
  });
  const specBehavior = pick(rnd, BEHAVIORS);
  const mappings = resolveMappings(spec, '/archive', '/base');
  const byPath = new Map(all.map(([p, n]) => [p === '' ? '/archive' : `/archive/${p}`, n]));
  const sources = mappings.map((m) => byPath.get(m.source));

  // Facts consistent with a real file system: a path exists only below an existing directory.
  const facts = new Map<string, PathFact>([['/', { isDirectory: true }]]);
  const probes = [...probePaths(spec, mappings, sources, '/base')].sort();
  for (const p of probes) {
    if (p === '/' || facts.has(p)) continue;
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    if (facts.get(parent)?.isDirectory !== true) continue;
    const r = rnd();
    if (p === '/base' || p === '/dst' || r < 0.15) facts.set(p, { isDirectory: true });
    else if (r < 0.3) facts.set(p, { isDirectory: false });
  }
  return {
    appspec: spec,
    archiveDir: '/archive',
    baseDir: '/base',
    sources,
    facts,
    ...(specBehavior ? { specFileExistsBehavior: specBehavior } : {}),
  };
}

describe('streaming planner = the in-memory planner it replaced', () => {
  it('on 3,000 generated cases (ops, retained, permission targets, or the same error)', () => {
    let errors = 0;
    let collisions = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const input = generateCase(seed);
      const expected = outcome(() => referencePlan(input));
      const actual = outcome(() => planInstall(input));
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        expect({ seed, actual }).toEqual({ seed, actual: expected });
      }
      if ('error' in expected) {
        errors++;
        if (
          /two source files|mkdir command more than once|already exists at the location|more than once in the application/.test(
            expected.error,
          )
        )
          collisions++;
      }
    }
    // The generator exercises both sides: successful plans and, among the failures, the collision checks.
    expect(errors).toBeGreaterThan(300);
    expect(errors).toBeLessThan(2700);
    expect(collisions).toBeGreaterThan(100);
  });
});

/** What the installer does with the real ports, collecting the operations instead of spooling them. */
async function streamingPlan(spec: AppSpec, archiveDir: string, baseDir: string, specBehavior?: string): Promise<InstallPlan> {
  const mappings = resolveMappings(spec, archiveDir, baseDir);
  const roots = await checkSources(spec, archiveDir, mappings);
  const facts = new DestinationFacts();
  const files = new FilePlanner({
    appspec: spec,
    mappings,
    roots,
    sources: createSourceTree(),
    facts,
    behavior: effectiveFileExistsBehavior(spec, specBehavior),
  });
  const ops: InstallOp[] = [];
  for (const op of files.ops()) if (op) ops.push(op);
  const copies = ops.filter((op): op is CopyOp => op.type === 'copy');
  let permissionTargets = 0;
  for (const target of planPermissionTargets({ permissions: spec.permissions, baseDir, files, facts, copies: () => copies })) {
    if (!target) continue;
    const targetOps = permissionOps(target, spec.permissions);
    if (targetOps.length > 0) permissionTargets++;
    ops.push(...targetOps);
  }
  return { ops, retained: files.retained, permissionTargets };
}

async function materialisedPlan(spec: AppSpec, archiveDir: string, baseDir: string, specBehavior?: string): Promise<InstallPlan> {
  const mappings = resolveMappings(spec, archiveDir, baseDir);
  const sources = await listSources(spec, archiveDir, mappings);
  const facts = await gatherFacts(probePaths(spec, mappings, sources, baseDir));
  return referencePlan({
    appspec: spec,
    archiveDir,
    baseDir,
    sources,
    facts,
    ...(specBehavior ? { specFileExistsBehavior: specBehavior } : {}),
  });
}

async function outcomeOf(plan: Promise<InstallPlan>): Promise<Outcome> {
  return plan.then(
    (result) => ({ ops: result.ops.map(show), retained: result.retained, permissionTargets: result.permissionTargets }),
    (err: unknown) => ({ error: (err as Error).message }),
  );
}

describe('the file-system ports (revision and destination on disk)', () => {
  it('plan like the materialised listing and facts, overlapping entries and symlinks included', async () => {
    const root = await tempDir();
    const archive = join(root, 'archive');
    const base = join(root, 'base');
    await mkdir(join(archive, 'app', 'sub', 'deep'), { recursive: true });
    await mkdir(join(archive, 'extra', 'deep'), { recursive: true });
    await mkdir(join(archive, 'linked-dir'), { recursive: true });
    await mkdir(join(base, 'existing', 'sub'), { recursive: true });
    await mkdir(join(base, 'out2', 'link'), { recursive: true });
    for (const f of [
      'app/a.txt',
      'app/sub/b.txt',
      'app/sub/deep/c.txt',
      'extra/e.txt',
      'extra/deep/c.txt',
      'single.txt',
      'linked-dir/e.txt',
    ]) {
      await writeFile(join(archive, f), f);
    }
    await symlink('../linked-dir', join(archive, 'app', 'link'));
    await writeFile(join(base, 'existing', 'a.txt'), 'old');
    await writeFile(join(base, 'existing', 'sub', 'b.txt'), 'old');

    const cases: Array<[string, AppSpec, string | undefined]> = [
      [
        'disjoint trees merge',
        appSpec({
          files: [
            ['app', 'out'],
            ['extra', 'out/sub'],
          ],
        }),
        undefined,
      ],
      [
        'a file entry onto a file of an earlier tree',
        appSpec({
          files: [
            ['app', 'out'],
            ['single.txt', 'out'],
          ],
        }),
        undefined,
      ],
      [
        'a tree onto a file of an earlier tree (same name)',
        appSpec({
          files: [
            ['app', 'out'],
            ['extra', 'out/sub/deep'],
          ],
        }),
        undefined,
      ],
      [
        'a tree below a symlink an earlier tree copies',
        appSpec({
          files: [
            ['app', 'out'],
            ['extra', 'out/link'],
          ],
        }),
        undefined,
      ],
      // The earlier tree's "link" is a symlink: nothing below it is copied by that tree, even though
      // an lstat through the link would find linked-dir/e.txt.
      [
        'an existing directory where an earlier tree has a symlink (RETAIN)',
        appSpec({
          files: [
            ['app', 'out2'],
            ['extra', 'out2/link'],
          ],
        }),
        'RETAIN',
      ],
      [
        'an existing directory where an earlier tree has a symlink (OVERWRITE)',
        appSpec({
          files: [
            ['app', 'out2'],
            ['extra', 'out2/link'],
          ],
        }),
        'OVERWRITE',
      ],
      [
        'a mkdir onto a copied file',
        appSpec({
          files: [
            ['app', 'out'],
            ['single.txt', 'out/a.txt/x'],
          ],
        }),
        undefined,
      ],
      [
        'RETAIN over existing files, twice',
        appSpec({
          files: [
            ['app', 'existing'],
            ['app', 'existing'],
          ],
        }),
        'RETAIN',
      ],
      [
        'OVERWRITE over existing files, twice',
        appSpec({
          files: [
            ['app', 'existing'],
            ['app', 'existing'],
          ],
        }),
        'OVERWRITE',
      ],
      ['DISALLOW over an existing file', appSpec({ files: [['app', 'existing']] }), undefined],
      [
        'permissions below a created and an existing directory, one path matched twice',
        appSpec({
          files: [
            ['app', 'existing'],
            ['extra', 'out'],
          ],
          permissions: [
            permission({ object: 'existing', mode: '640', types: ['file'] }),
            permission({ object: 'out', pattern: '*', mode: '750' }),
          ],
        }),
        'OVERWRITE',
      ],
      [
        'a file permission on a path a directory permission already matched',
        appSpec({
          files: [['app', 'out']],
          permissions: [permission({ object: 'out', mode: '640' }), permission({ object: 'out/a.txt', mode: '600' })],
        }),
        undefined,
      ],
      [
        'a missing source',
        appSpec({
          files: [
            ['app', 'out'],
            ['nope', 'out2'],
          ],
        }),
        undefined,
      ],
    ];
    for (const [name, spec, behavior] of cases) {
      const expected = await outcomeOf(materialisedPlan(spec, archive, base, behavior));
      const actual = await outcomeOf(streamingPlan(spec, archive, base, behavior));
      expect({ name, ...actual }).toEqual({ name, ...expected });
    }
  });

  it('a fresh install into a new directory probes a handful of destination paths, not one per file', async () => {
    const root = await tempDir();
    const archive = join(root, 'archive');
    for (let d = 0; d < 10; d++) {
      await mkdir(join(archive, `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(archive, `d${d}`, `f${f}`), '')));
    }
    const spec = appSpec({ files: [['/', join(root, 'new', 'app')]] });
    const mappings = resolveMappings(spec, archive, root);
    const probed: string[] = [];
    const facts = new DestinationFacts((path) => {
      probed.push(path);
      return path === root || root.startsWith(`${path}/`) || path === '/' ? { isDirectory: true } : undefined;
    });
    const files = new FilePlanner({
      appspec: spec,
      mappings,
      roots: await checkSources(spec, archive, mappings),
      sources: createSourceTree(),
      facts,
      behavior: 'DISALLOW',
    });
    let copies = 0;
    for (const op of files.ops()) if (op?.type === 'copy') copies++;
    expect(copies).toBe(1000);
    expect(files.mkdirTargets.size).toBe(12);
    expect(probed).toContain(join(root, 'new'));
    expect(probed.filter((p) => basename(p).startsWith('f'))).toEqual([]);
    expect(probed.length).toBeLessThan(20);
  });
});
