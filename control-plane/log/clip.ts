/**
 * Caller-supplied text on its way into a log line or an error message. Everything a client sends
 * (identifiers, names, URLs, keys) goes through here, so a megabyte-long identifier costs a few
 * hundred bytes of log instead of megabytes per request (docs/design.md section 8: memory and log volume
 * are bounded by configuration, never by what a remote caller sends).
 */

/** Longest caller-supplied string written to a log line. */
export const LOGGED_TEXT_MAX = 200;

/** `text` itself when short enough, else its start and how much was left out. */
export function clip(text: string, max = LOGGED_TEXT_MAX): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…(${text.length - max} more characters)`;
}

/** JSON.stringify of a caller's value (for messages that quote it), clipped. */
export function quoted(value: unknown, max = LOGGED_TEXT_MAX): string {
  if (typeof value === 'string') return JSON.stringify(clip(value, max));
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  return clip(text ?? String(value), max);
}

/**
 * A subscriber's or webhook's URL as a log line may show it: scheme, host and port only. Such URLs
 * often carry their secret in the user info, the path or the query (a chat webhook's path is its
 * token), and logs are read by more people than the API's answers.
 */
export function shownUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '(not a URL)';
  }
  const hidden = url.username !== '' || url.password !== '' || url.pathname.length > 1 || url.search !== '' || url.hash !== '';
  return clip(`${url.origin}${hidden ? '/…' : '/'}`);
}
