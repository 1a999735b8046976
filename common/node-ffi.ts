/**
 * node:ffi (Node 26, experimental): calls into libc without a native addon, for the few system
 * calls Node has no binding for (flock(2) in file-lock.ts, the sd_notify datagram socket in the
 * agent). Absent on Node 20-24 (the npm route's older runtimes): callers fall back to a helper
 * binary then. Loading it prints an ExperimentalWarning; that warning alone is swallowed, because
 * it is for developers, not for an operator reading the service's output.
 */

/** The part of node:ffi used here (Node 26; not in @types/node 20). */
export interface FfiModule {
  dlopen(
    path: string | null,
    symbols: Record<string, { arguments: string[]; return: string }>,
  ): { functions: Record<string, (...args: unknown[]) => unknown> };
  getRawPointer(buffer: Buffer): bigint;
  getInt32(pointer: bigint): number;
}

/** Returns node:ffi, or undefined when this Node has none; swallows its ExperimentalWarning only. */
export function loadNodeFfi(): FfiModule | undefined {
  const original = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    const first = rest[0];
    const type = typeof first === 'string' ? first : (first as { type?: string } | undefined)?.type;
    const text = typeof warning === 'string' ? warning : warning.message;
    if (type === 'ExperimentalWarning' && /\bFFI\b/.test(text)) return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return process.getBuiltinModule?.('node:ffi') as FfiModule | undefined;
  } catch {
    return undefined;
  } finally {
    process.emitWarning = original;
  }
}

/** libc's errno after a failed call, through __errno_location; undefined when it cannot tell. */
export function errnoReader(ffi: FfiModule, errnoLocation: ((...args: unknown[]) => unknown) | undefined): () => number | undefined {
  return () => {
    try {
      const at = errnoLocation?.();
      return typeof at === 'bigint' && at !== 0n ? ffi.getInt32(at) : undefined;
    } catch {
      return undefined;
    }
  };
}
