/**
 * A registered target's health, pure: the state after each health check, as the Application Load
 * Balancer guide describes it.
 *
 * - A newly registered target is 'initial' (Elb.RegistrationInProgress, then
 *   Elb.InitialHealthChecking after a failed check) and becomes 'healthy' after ONE passing check
 *   ("After your target is registered, it must pass one health check to be considered healthy"),
 *   not after HealthyThresholdCount; it becomes 'unhealthy' after UnhealthyThresholdCount
 *   consecutive failures.
 * - A 'healthy' target becomes 'unhealthy' after UnhealthyThresholdCount consecutive failures.
 * - An 'unhealthy' target becomes 'healthy' after HealthyThresholdCount consecutive passes.
 * Draining and 'unused' are not health: the target pool (target-pool.ts) layers them on top.
 */

export type CheckFailureReason = 'Target.ResponseCodeMismatch' | 'Target.Timeout' | 'Target.FailedHealthChecks';

export type CheckOutcome = { ok: true } | { ok: false; reason: CheckFailureReason; description: string };

export interface Health {
  state: 'initial' | 'healthy' | 'unhealthy';
  reason?: string;
  description?: string;
  /** Consecutive passes (counted while unhealthy). */
  passes: number;
  /** Consecutive failures. */
  failures: number;
}

export interface Thresholds {
  healthy: number;
  unhealthy: number;
}

export function initialHealth(): Health {
  return {
    state: 'initial',
    reason: 'Elb.RegistrationInProgress',
    description: 'Target registration is in progress',
    passes: 0,
    failures: 0,
  };
}

/** With health checks disabled every registered target takes traffic. */
export function uncheckedHealth(): Health {
  return { state: 'healthy', description: 'Health checks are disabled for this target group', passes: 0, failures: 0 };
}

export function applyCheck(h: Health, outcome: CheckOutcome, t: Thresholds): Health {
  if (outcome.ok) {
    switch (h.state) {
      case 'initial':
      case 'healthy':
        return { state: 'healthy', passes: 0, failures: 0 };
      case 'unhealthy': {
        const passes = h.passes + 1;
        if (passes >= t.healthy) return { state: 'healthy', passes: 0, failures: 0 };
        return { ...h, passes, failures: 0 };
      }
    }
  }
  const failures = h.failures + 1;
  const failed = { reason: outcome.reason, description: outcome.description };
  switch (h.state) {
    case 'initial':
      return failures >= t.unhealthy
        ? { state: 'unhealthy', ...failed, passes: 0, failures }
        : {
            state: 'initial',
            reason: 'Elb.InitialHealthChecking',
            description: `Initial health checking: ${outcome.description}`,
            passes: 0,
            failures,
          };
    case 'healthy':
      return failures >= t.unhealthy ? { state: 'unhealthy', ...failed, passes: 0, failures } : { state: 'healthy', passes: 0, failures };
    case 'unhealthy':
      return { state: 'unhealthy', ...failed, passes: 0, failures };
  }
}
