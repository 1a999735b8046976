/**
 * Timestamps of the official text logs (docs/reference.md section 6.7), in LOCAL time like Ruby's
 * Time.now.to_s. Formatting is cached per second: hooks can print millions of lines.
 */

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n);
}

function formatSeconds(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "YYYY-MM-DD HH:MM:SS" in local time (scripts.log). */
export function formatScriptsLogTime(d: Date): string {
  return formatSeconds(d);
}

/** "YYYY-MM-DDTHH:MM:SS" in local time (the agent log's text format, the official "%Y-%m-%dT%H:%M:%S"). */
export function formatAgentLogTime(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "YYYY-MM-DD HH:MM:SS.mmm" in local time (the deployments log, Ruby Logger "%L"). */
export function formatDeploymentsLogTime(d: Date): string {
  return `${formatSeconds(d)}.${pad3(d.getMilliseconds())}`;
}

/** A formatter that reuses the "YYYY-MM-DD HH:MM:SS" part while the second does not change. */
export class LogClock {
  private cachedSecond = Number.NaN;
  private cachedText = '';

  /** Without `now`, Date.now() is read and a Date is built only when the second changes. */
  constructor(private readonly now?: () => Date) {}

  /** The current time as both formats share it. */
  read(): { seconds: string; millis: string } {
    const ms = this.now ? this.now().getTime() : Date.now();
    const second = Math.floor(ms / 1000);
    if (second !== this.cachedSecond) {
      this.cachedSecond = second;
      this.cachedText = formatSeconds(new Date(ms));
    }
    return { seconds: this.cachedText, millis: pad3(ms - second * 1000) };
  }
}
