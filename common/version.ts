import { readFileSync } from 'node:fs';

/** The package version, read once from package.json next to dist/ (or the source tree). */
export function packageVersion(): string {
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
