/**
 * Narrowing of caught values, shared by the agent and the control plane (strict mode catches
 * `unknown`; these are the only two ways the code looks inside one).
 */

/** Narrow an unknown caught value to an Error (wrapping anything else). */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** The errno code of a Node system error, if any (ENOENT, EEXIST, ...). */
export function errnoCode(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && 'code' in value) {
    const code = (value as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
