import { readFileSync } from 'node:fs';

/**
 * Set by the release bundler (esbuild `define`): the self-contained executable has no package.json
 * beside it. Undeclared (typeof "undefined") in the npm build, which reads package.json instead.
 */
declare const __CODEDEPLOY_AGENT_VERSION__: string | undefined;

/** The package version, read once from package.json next to dist/ (or the source tree). */
export function packageVersion(): string {
  if (typeof __CODEDEPLOY_AGENT_VERSION__ === 'string') return __CODEDEPLOY_AGENT_VERSION__;
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'codedeploy-agent-ts' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return 'UNKNOWN_VERSION';
}
