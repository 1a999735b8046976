/**
 * The import rules of the tree, checked by `npm run lint` (depcruise) and in CI.
 * Two programs (agent/, control-plane/) share one floor (common/) and the pure appspec library;
 * neither program imports the other. Inside the agent, imports point inward, from the entry points
 * (cli/, daemon.ts) through the poller and the deployment executor to the parts and the platform.
 * `npx depcruise agent control-plane appspec common scripts bench --output-type text` prints the graph.
 */
const AGENT = '^agent/';
// The agent's layers, inner to outer. A module may import its own folder and any inner layer.
const LAYERS = [
  ['platform', 'errors\\.ts'],
  ['log', 'config', 'identity', 'spec', 'systemd'],
  ['commands-client', 'bundle', 'hooks', 'install'],
  ['deployment'],
  ['poller'],
  ['status'],
  ['ops'],
  ['daemon(-wiring)?\\.ts'],
  ['cli'],
];
// The parts (the commands client, fetchers, hook runner, installer) do not know each other; the
// deployment executor composes them. Elsewhere a folder may use a sibling in its own layer.
const PARTS = 2;
const layerRules = LAYERS.flatMap((layer, i) =>
  layer.map((part) => {
    const self = `${AGENT}${part}`;
    const outer = LAYERS.slice(i + 1).flat();
    const siblings = i === PARTS ? layer.filter((p) => p !== part) : [];
    const banned = [...outer, ...siblings];
    return {
      name: `agent-layers:${part.replace('\\.ts', '')}`,
      comment: `agent/${part.replace('\\.', '.')} may import its own layer and the inner ones (${LAYERS.slice(0, i).flat().join(', ').replace(/\\/g, '') || 'none'})`,
      severity: 'error',
      from: { path: self },
      to: { path: banned.length ? `${AGENT}(${banned.join('|')})` : '^$' },
    };
  }),
);

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'agent-not-control-plane',
      comment: 'the agent ships without the control plane',
      severity: 'error',
      from: { path: '^agent/' },
      to: { path: '^control-plane/' },
    },
    {
      name: 'control-plane-not-agent',
      comment: 'the control plane is a separate program; shared code lives in common/',
      severity: 'error',
      from: { path: '^control-plane/' },
      to: { path: '^agent/' },
    },
    {
      name: 'common-is-a-floor',
      comment: 'common/ imports neither program nor appspec',
      severity: 'error',
      from: { path: '^common/' },
      to: { path: '^(agent|control-plane|appspec|scripts|bench|test)/' },
    },
    {
      name: 'appspec-is-pure',
      comment: 'appspec/ depends on nothing else in the tree',
      severity: 'error',
      from: { path: '^appspec/' },
      to: { path: '^(agent|control-plane|common|scripts|bench|test)/' },
    },
    {
      name: 'no-tests-from-source',
      severity: 'error',
      from: { path: '^(agent|control-plane|appspec|common|scripts|bench)/' },
      to: { path: '^test/' },
    },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
