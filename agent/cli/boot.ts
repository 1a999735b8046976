/**
 * The first import of every entry point. Installing thousands of files is bound by Node's file
 * system thread pool (4 threads by default); libuv reads UV_THREADPOOL_SIZE once, when the pool
 * first starts, so it must be set before any other module touches the file system. Hooks get the
 * environment as it was before this change (originalEnv), not ours.
 */
export const originalEnv: NodeJS.ProcessEnv = { ...process.env };
process.env.UV_THREADPOOL_SIZE ??= '16';
