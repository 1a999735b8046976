/**
 * One health check: a real HTTP GET of the target group's HealthCheckPath on a fresh connection
 * (no keep-alive: the load balancer closes the connection after each check, as ELB does), with
 * ELB's User-Agent, judged by the status code alone against the Matcher within the timeout. The
 * caller (target-pool.ts) keeps at most one check in flight per target.
 */
import * as http from 'node:http';
import { matches, type CodeRange } from './elb-validation.js';
import type { CheckOutcome } from './target-health.js';

export interface HealthCheckRequest {
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  matcher: readonly CodeRange[];
  /** Aborts the check (deregistration, shutdown); the outcome is then a failure nobody reads. */
  signal?: AbortSignal;
}

export function runHealthCheck(r: HealthCheckRequest): Promise<CheckOutcome> {
  return new Promise<CheckOutcome>((resolve) => {
    let settled = false;
    const settle = (o: CheckOutcome): void => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    const req = http.request({
      host: r.host,
      port: r.port,
      path: r.path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'ELB-HealthChecker/2.0', accept: '*/*', connection: 'close' },
      signal: r.signal,
    });
    // The timeout covers the whole exchange; a body still arriving when it fires is cut off.
    const timer = setTimeout(() => {
      settle({ ok: false, reason: 'Target.Timeout', description: `Request timed out after ${r.timeoutMs} ms` });
      req.destroy();
    }, r.timeoutMs);
    timer.unref();
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      settle(
        matches(r.matcher, status)
          ? { ok: true }
          : { ok: false, reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${status}]` },
      );
      res.on('error', () => undefined);
      res.on('end', () => clearTimeout(timer));
      res.on('close', () => clearTimeout(timer));
      res.resume();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      settle({ ok: false, reason: 'Target.FailedHealthChecks', description: `Health checks failed: ${err.code ?? err.message}` });
    });
    req.end();
  });
}
