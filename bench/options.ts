/**
 * `npm run bench` options: environment variables (BENCH_*) and `--help`. Pure: parseOptions takes
 * the environment and the arguments and returns options or throws a BenchUsageError that says
 * which variable is wrong and what it takes (test/unit/bench/options.test.ts).
 */

export interface Suite {
  name: string;
  /** Rough time of the suite with the defaults on a 2-core machine. */
  minutes: string;
  what: string;
}

export const SUITES: readonly Suite[] = [
  {
    name: 'install',
    minutes: '2',
    what: 'tgz of BENCH_FILES small files (10,000 and 50,000) through codedeploy-local vs tar -xzf + cp -a; peak memory',
  },
  { name: 'large', minutes: '1.5', what: 'one BENCH_LARGE_MB (1024) MiB incompressible file, tgz, vs tar -xzf + cp -a; peak memory' },
  {
    name: 'startup',
    minutes: '0.5',
    what: 'npm build: codedeploy-agent --version and a one-file codedeploy-local deployment vs bare node -e 0',
  },
  {
    name: 'release',
    minutes: '2',
    what: 'the shipped executable vs the npm build: size, --version, one-file deployment, idle RSS',
  },
  { name: 'daemon', minutes: '1.5', what: 'daemon idle RSS (npm build, stub commands API) and poll-to-ack latency' },
  { name: 'latency', minutes: '0.5', what: '1-host trivial deployment, create-deployment to Succeeded, shipped config' },
  { name: 'control-plane', minutes: '4', what: 'BENCH_FLEET_HOSTS (50) real agents: wall times and agent CPU per command' },
  { name: 'many-entries', minutes: '2', what: 'tars of BENCH_MANY_ENTRIES empty files: peak memory and linear time' },
  {
    name: 'traffic',
    minutes: '1.5',
    what: 'hosts behind a local load balancer under 100 req/s: in place (vs none), a rollback, a blue/green; failed requests',
  },
];

export interface BenchOptions {
  suites: string[];
  runs: number;
  /** Where files go: BENCH_DIR, else tmpfs when there is one. */
  benchDir: string;
  files: number[];
  largeMiB: number;
  manyEntries: number[];
  idleSeconds: number;
  commands: number;
  fleetHosts: number;
  /** BENCH_JSON: also write the summary as JSON here. */
  json?: string;
  /** BENCH_LOCAL_CLI: another build's codedeploy-local.js for the install, large and many-entries suites. */
  localCli?: string;
  /** BENCH_FLEET_CPU_BEFORE_MS: the agents' CPU per command before #13, for the fleet row's ratio. */
  fleetCpuBeforeMs?: number;
  /** Warnings to print (e.g. fewer than 5 runs). */
  warnings: string[];
}

export class BenchUsageError extends Error {}

const positiveInt = (name: string, raw: string | undefined, fallback: number, min = 1): number => {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim().replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) {
    throw new BenchUsageError(`${name}=${raw} is not valid: it takes a whole number of at least ${min} (default ${fallback})`);
  }
  return n;
};

const intList = (name: string, raw: string | undefined, fallback: number[]): number[] => {
  if (raw === undefined || raw.trim() === '') return fallback;
  const items = raw.split(',').map((s) => s.trim());
  const values = items.map((s) => Number(s.replace(/_/g, '')));
  if (items.some((s) => s === '') || values.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new BenchUsageError(
      `${name}=${raw} is not valid: it takes comma-separated whole numbers of at least 1 (default ${fallback.join(',')})`,
    );
  }
  return values;
};

/**
 * The options from the environment and the arguments; `{ help: true }` for --help/-h. `defaultDir`
 * is where files go without BENCH_DIR (the caller picks tmpfs when it exists).
 */
export function parseOptions(
  env: Record<string, string | undefined>,
  argv: readonly string[],
  defaultDir: string,
): BenchOptions | { help: true } {
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return { help: true };
  }
  if (argv.length > 0) {
    throw new BenchUsageError(
      `unknown argument ${argv[0]}: npm run bench takes its options from BENCH_* variables (npm run bench -- --help lists them)`,
    );
  }
  const names = SUITES.map((s) => s.name);
  const suites =
    env.BENCH_SUITES === undefined || env.BENCH_SUITES.trim() === ''
      ? names
      : env.BENCH_SUITES.split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const unknown = suites.filter((s) => !names.includes(s));
  if (unknown.length > 0 || suites.length === 0) {
    throw new BenchUsageError(
      `BENCH_SUITES=${env.BENCH_SUITES ?? ''}: unknown suite ${unknown.join(', ') || '(none given)'}; the suites are ${names.join(', ')}`,
    );
  }
  const runs = positiveInt('BENCH_RUNS', env.BENCH_RUNS, 5);
  const warnings: string[] = [];
  if (runs < 5) warnings.push(`BENCH_RUNS=${runs}: medians of fewer than 5 runs; the issue's targets are judged on at least 5`);
  const fleetCpu = env.BENCH_FLEET_CPU_BEFORE_MS;
  let fleetCpuBeforeMs: number | undefined;
  if (fleetCpu !== undefined && fleetCpu.trim() !== '') {
    fleetCpuBeforeMs = Number(fleetCpu);
    if (!Number.isFinite(fleetCpuBeforeMs) || fleetCpuBeforeMs <= 0) {
      throw new BenchUsageError(`BENCH_FLEET_CPU_BEFORE_MS=${fleetCpu} is not valid: it takes a positive number of milliseconds`);
    }
  }
  return {
    // In the order of SUITES, whatever the order given.
    suites: names.filter((n) => suites.includes(n)),
    runs,
    benchDir: env.BENCH_DIR?.trim() || defaultDir,
    files: intList('BENCH_FILES', env.BENCH_FILES, [10_000, 50_000]),
    largeMiB: positiveInt('BENCH_LARGE_MB', env.BENCH_LARGE_MB, 1024),
    manyEntries: intList('BENCH_MANY_ENTRIES', env.BENCH_MANY_ENTRIES, [100_000, 1_000_000]),
    idleSeconds: positiveInt('BENCH_IDLE_SECONDS', env.BENCH_IDLE_SECONDS, 60),
    commands: positiveInt('BENCH_COMMANDS', env.BENCH_COMMANDS, 200),
    fleetHosts: positiveInt('BENCH_FLEET_HOSTS', env.BENCH_FLEET_HOSTS, 50),
    json: env.BENCH_JSON?.trim() || undefined,
    localCli: env.BENCH_LOCAL_CLI?.trim() || undefined,
    fleetCpuBeforeMs,
    warnings,
  };
}

/** The target of an install row of `files` small files: the issue's 1.3x at 10,000, 1.2x from 50,000. */
export const smallFilesTarget = (files: number): number => (files >= 50_000 ? 1.2 : 1.3);

export function usage(): string {
  const width = Math.max(...SUITES.map((s) => s.name.length));
  return [
    'Usage: npm run bench [-- --help]',
    '',
    "Measures issue #13's claims as ratios against baselines measured in the same run (medians of",
    'BENCH_RUNS runs, ours and the baseline interleaved, files in tmpfs), prints each suite as it goes',
    'and a summary table at the end: what, ours, baseline, ratio, target, met or NOT MET, and the official',
    "agent 1.8.1's figure from the issue (a fixed reference: it is not measured here).",
    '',
    'Suites (BENCH_SUITES, comma-separated; default: all, 10 to 15 minutes on 2 cores):',
    ...SUITES.map((s) => `  ${s.name.padEnd(width)}  ${`~${s.minutes} min`.padEnd(9)}  ${s.what}`),
    '',
    'Environment:',
    '  BENCH_SUITES=install,startup    suites to run (default: all of the above)',
    '  BENCH_RUNS=5                    runs per median (the targets are judged on at least 5)',
    '  BENCH_DIR=/dev/shm              where bundles and installs go (default: /dev/shm when present)',
    '  BENCH_FILES=10000,50000         small-file counts of the install suite (target 1.3x; 1.2x from 50,000)',
    "  BENCH_LARGE_MB=1024             size of the large suite's file, in MiB",
    '  BENCH_MANY_ENTRIES=100000,1000000  entry counts of the many-entries suite',
    '  BENCH_IDLE_SECONDS=60           how long daemons poll before their RSS is read (daemon, release)',
    '  BENCH_COMMANDS=200              commands of the poll-to-ack measure (daemon)',
    '  BENCH_FLEET_HOSTS=50            agents of the control-plane suite',
    "  BENCH_FLEET_CPU_BEFORE_MS=ms    agents' CPU per command before #13, the fleet row's baseline",
    '  BENCH_EXE=path                  reuse a built executable in the release suite (else one is built)',
    '  BENCH_DEB=1                     the release suite also builds the .deb and prints its size',
    "  BENCH_LOCAL_CLI=path            another build's dist/agent/cli/codedeploy-local.js (install, large, many-entries)",
    '  BENCH_JSON=path                 also write the summary as JSON there',
    '',
    'Exit status: 0 when every suite ran (targets met or not: the table says), 1 when a suite failed, 2 on bad options.',
  ].join('\n');
}
