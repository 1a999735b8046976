/**
 * Where hook output goes. One writer per deployment: it writes each line to the deployment's
 * logs/scripts.log (official format, docs/reference.md section 6.7) and, when enabled, to the shared
 * deployment-logs/codedeploy-agent-deployments.log with the "[d-ID]" prefix.
 */
export type OutputStream = 'stdout' | 'stderr';

export interface ScriptLogWriter {
  /** "<ts> LifecycleEvent - <event>" */
  lifecycleEvent(event: string): void;
  /** "<ts> Script - <location>" */
  script(location: string): void;
  /** "<ts> [stdout]<line>": line keeps its own trailing newline when it had one. */
  output(stream: OutputStream, line: string): void;
  /** "<ts> [agent]<message>": the agent's own notes (warnings) for the operator, one line. */
  note(message: string): void;
  /** Resolves once everything written so far is on disk (flushed, not necessarily fsynced). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
