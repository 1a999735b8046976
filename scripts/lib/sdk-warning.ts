/**
 * The AWS SDK warns on load that its releases from 2027 on need Node 22. This project supports
 * Node 20 with the pinned SDK, so the demo and the benchmark hide that one notice to keep their
 * output about the deployment; every other warning still prints.
 */
export function hideSdkNodeVersionWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (!`${w.name} ${w.message}`.includes('NodeVersionSupportWarning')) console.warn(`${w.name}: ${w.message}`);
  });
}
