import { describe, expect, it } from 'vitest';
import { applyCheck, initialHealth, type CheckOutcome, type Health } from '../../../control-plane/traffic/target-health.js';

const pass: CheckOutcome = { ok: true };
const mismatch: CheckOutcome = {
  ok: false,
  reason: 'Target.ResponseCodeMismatch',
  description: 'Health checks failed with these codes: [503]',
};
const timeout: CheckOutcome = { ok: false, reason: 'Target.Timeout', description: 'Request timed out' };
const t = { healthy: 3, unhealthy: 2 };

const run = (h: Health, ...outcomes: CheckOutcome[]): Health => outcomes.reduce((acc, o) => applyCheck(acc, o, t), h);

describe('target health transitions', () => {
  it('starts initial with Elb.RegistrationInProgress and is healthy after ONE pass (ALB guide), not healthyThreshold', () => {
    expect(initialHealth()).toMatchObject({ state: 'initial', reason: 'Elb.RegistrationInProgress' });
    expect(run(initialHealth(), pass)).toEqual({ state: 'healthy', passes: 0, failures: 0 });
  });

  it('stays initial (Elb.InitialHealthChecking) below the unhealthy threshold, then unhealthy with the last failure reason', () => {
    const once = run(initialHealth(), mismatch);
    expect(once).toMatchObject({ state: 'initial', reason: 'Elb.InitialHealthChecking', failures: 1 });
    expect(run(once, timeout)).toMatchObject({ state: 'unhealthy', reason: 'Target.Timeout', description: 'Request timed out' });
  });

  it('a healthy target needs unhealthyThreshold consecutive failures; a pass in between resets the count', () => {
    const healthy = run(initialHealth(), pass);
    expect(run(healthy, mismatch).state).toBe('healthy');
    expect(run(healthy, mismatch, pass, mismatch).state).toBe('healthy');
    expect(run(healthy, mismatch, mismatch)).toMatchObject({ state: 'unhealthy', reason: 'Target.ResponseCodeMismatch' });
  });

  it('an unhealthy target needs healthyThreshold consecutive passes; a failure in between resets the count', () => {
    const unhealthy = run(initialHealth(), pass, mismatch, mismatch);
    expect(run(unhealthy, pass, pass)).toMatchObject({ state: 'unhealthy', passes: 2 });
    expect(run(unhealthy, pass, pass, timeout, pass, pass)).toMatchObject({ state: 'unhealthy', reason: 'Target.Timeout', passes: 2 });
    const back = run(unhealthy, pass, pass, pass);
    expect(back.state).toBe('healthy');
    expect(back.reason).toBeUndefined();
  });
});
