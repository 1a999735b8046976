/**
 * The AWS SDK warns on load that its releases from 2027 on need Node 22. This project supports
 * Node 20 with the pinned SDK, so the demo, the benchmark and the control plane's CLI (add-host
 * loads the SDK) hide that one notice to keep their output about what they do; every other warning
 * still prints.
 */
export function hideSdkNodeVersionWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (!`${w.name} ${w.message}`.includes('NodeVersionSupportWarning')) console.warn(`${w.name}: ${w.message}`);
  });
}
