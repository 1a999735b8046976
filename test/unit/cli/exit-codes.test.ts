import { describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes, EXIT_CONFIG, startExitCode } from '../../../agent/errors.js';

describe('startExitCode: how a failed start exits', () => {
  it('is 78 for configuration errors, 1 for the rest', () => {
    expect(EXIT_CONFIG).toBe(78);
    expect(startExitCode(new AgentError(ErrorCodes.CONFIG_INVALID, 'The system user does not exist: x'))).toBe(78);
    expect(startExitCode(new AgentError(ErrorCodes.ONPREMISES_CONFIG_INVALID, 'bad on-premises file'))).toBe(78);
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    expect(startExitCode(new AgentError(ErrorCodes.CONFIG_INVALID, 'cannot write the log directory', { cause: eacces }))).toBe(78);
    expect(startExitCode(new AgentError(ErrorCodes.IDENTITY, 'no IMDS'))).toBe(1);
    expect(startExitCode(new AgentError(ErrorCodes.ALREADY_RUNNING, 'another agent'))).toBe(1);
    expect(startExitCode(new AgentError(ErrorCodes.CREDENTIALS, 'no credentials'))).toBe(1);
    expect(startExitCode(new Error('anything else'))).toBe(1);
  });

  it('is 1 for a configuration check that failed for a transient reason (a full disk)', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    expect(startExitCode(new AgentError(ErrorCodes.CONFIG_INVALID, 'cannot write the log file', { cause: enospc }))).toBe(1);
  });
});
