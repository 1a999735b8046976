/**
 * permissions[].mode (docs/reference.md section 5.2, mode_info.rb): the characters the user wrote,
 * left-padded with "0" to 3, at most 4 long, each 0-7. The 4th digit from the right holds the
 * setuid/setgid/sticky bits.
 */
import type { Mode } from './model.js';
import { invalidModeCharacter, invalidModeLength } from './messages.js';
import { fail, ok, type Parsed } from './result.js';

export function parseMode(written: string): Parsed<Mode> {
  const text = written.padStart(3, '0');
  if (text.length > 4) return fail(invalidModeLength(text));
  for (const char of text) {
    if (char < '0' || char > '7') return fail(invalidModeCharacter(text, char));
  }
  return ok({ text, value: Number.parseInt(text, 8) });
}
