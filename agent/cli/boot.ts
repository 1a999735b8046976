/**
 * The first import of every entry point. Installing thousands of files is bound by Node's file
 * system thread pool (4 threads by default); libuv reads UV_THREADPOOL_SIZE once, when the pool
 * first starts, so it must be set before any other module touches the file system. Hooks get the
 * environment as it was before this change (originalEnv), not ours.
 */
export const originalEnv: NodeJS.ProcessEnv = { ...process.env };
process.env.UV_THREADPOOL_SIZE ??= '16';
// The AWS SDK warns once per process, on stderr, that its releases from January 2027 need Node 22.
// That notice is for whoever picks the runtime (the release embeds a current LTS), not for an
// operator reading the agent's output, so it is switched off with the SDK's own setting. Hooks
// still get originalEnv, without it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
