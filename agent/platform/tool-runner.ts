/**
 * Runs the external tools the installer needs (setfacl, semanage, restorecon, getent) with argv
 * arrays, never shell strings (the official agent interpolated appspec paths into /bin/sh command
 * lines, docs/reference.md section 11.2 item 5). An interface so tests can pass a recording fake.
 */
import { execFile } from 'node:child_process';
import { errnoCode } from '../../common/errors.js';

export interface ToolResult {
  /** The exit code, or null when the process was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ToolRunner {
  run(file: string, args: readonly string[]): Promise<ToolResult>;
}

/** The status as the failure messages print it: the exit code ("1"; 127 when the tool is missing) or the signal name. */
export function describeStatus(result: ToolResult): string {
  if (result.exitCode !== null) return String(result.exitCode);
  return result.signal ?? 'unknown';
}

export function createToolRunner(options: { timeoutMs?: number } = {}): ToolRunner {
  return {
    run(file, args) {
      return new Promise((resolve) => {
        execFile(
          file,
          [...args],
          { encoding: 'utf8', timeout: options.timeoutMs ?? 300_000, maxBuffer: 16 * 1024 * 1024 },
          (error, stdout, stderr) => {
            if (!error) {
              resolve({ exitCode: 0, signal: null, stdout, stderr });
              return;
            }
            const code = (error as { code?: unknown }).code;
            if (typeof code === 'number') {
              resolve({ exitCode: code, signal: null, stdout, stderr });
            } else if (errnoCode(error) === 'ENOENT') {
              // What /bin/sh reports for a missing command, as the official system() call would.
              resolve({ exitCode: 127, signal: null, stdout, stderr: `${file}: command not found` });
            } else {
              const signal = (error as { signal?: unknown }).signal;
              resolve({
                exitCode: null,
                signal: typeof signal === 'string' ? signal : null,
                stdout,
                stderr: stderr || error.message,
              });
            }
          },
        );
      });
    },
  };
}
