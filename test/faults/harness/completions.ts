/**
 * "Each command reported exactly once", read from the proxy's log. The control plane answers 200
 * to a repeat of an identical completion (the agent could not know the first one arrived), so a
 * result is a distinct (HostCommandIdentifier, CommandStatus) among the accepted (200) completions:
 *   - every command the control plane handed out has exactly one result;
 *   - no command has two different results;
 *   - no completion was refused (a 4xx means the agent reported something the control plane
 *     could not take, e.g. a different result for a command it had already completed).
 */
import type { ExchangeRecord } from './fault-proxy.js';

export interface CompletionCheck {
  /** Handed-out commands by id -> name, in the order they were handed out. */
  handedOut: Map<string, string>;
  /** Accepted results by id. */
  results: Map<string, Set<string>>;
  /** One line per broken rule; empty when all hold. */
  problems: string[];
}

export function checkCompletions(records: ExchangeRecord[]): CompletionCheck {
  const handedOut = new Map<string, string>();
  for (const r of records) if (r.handedOut && r.hostCommandIdentifier) handedOut.set(r.hostCommandIdentifier, r.commandName ?? '?');
  const results = new Map<string, Set<string>>();
  const problems: string[] = [];
  const label = (id: string) => `${handedOut.get(id) ?? 'unknown command'} (${id.slice(-12)})`;
  for (const r of records) {
    if (r.op !== 'PutHostCommandComplete' || !r.hostCommandIdentifier) continue;
    if (r.status === 200) {
      const set = results.get(r.hostCommandIdentifier) ?? new Set<string>();
      set.add(r.commandStatus ?? '?');
      results.set(r.hostCommandIdentifier, set);
    } else if (r.status !== undefined) {
      problems.push(
        `a ${r.commandStatus ?? '?'} completion of ${label(r.hostCommandIdentifier)} (error_code ${r.diagnostics?.error_code ?? '?'}: ${r.diagnostics?.message ?? ''}) was refused with HTTP ${r.status}`,
      );
    }
  }
  for (const [id, name] of handedOut) {
    const got = results.get(id);
    if (!got) problems.push(`${name} (${id.slice(-12)}) was handed out but never completed`);
    else if (got.size > 1) problems.push(`${label(id)} was completed with different results: ${[...got].join(' and ')}`);
  }
  for (const id of results.keys())
    if (!handedOut.has(id)) problems.push(`a completion was accepted for ${id.slice(-12)}, which the proxy never saw handed out`);
  return { handedOut, results, problems };
}
