/**
 * The SELinux range of permissions[].context (docs/reference.md section 5.2; range_info.rb):
 * s<N>[-s<M>][:c<a>[.c<b>](,c<a>[.c<b>])*], sensitivities low <= high, categories 0-1023,
 * category ranges low <= high, no category twice.
 */
import type { SeRange } from './model.js';
import {
  duplicateCategories,
  invalidCategory,
  invalidCategoryRange,
  invalidRangePart,
  invalidSensitivity,
  invalidSeRange,
} from './messages.js';
import { fail, ok, type Parsed } from './result.js';

/** Ruby's input.split(sep, 2), where each part must be non-empty; one part when sep is absent. */
function ensureParts(input: string, sep: string): Parsed<string[]> {
  const at = input.indexOf(sep);
  const parts = at < 0 ? (input === '' ? [] : [input]) : [input.slice(0, at), input.slice(at + sep.length)];
  const expected = at < 0 ? 1 : 2;
  if (parts.length !== expected || parts.some((p) => p === '')) return fail(invalidRangePart(input));
  return ok(parts);
}

/** "<letter><digits>" -> the number; the letter removed is the first occurrence (Ruby sub). */
function levelOf(text: string, letter: string, invalid: (t: string) => string): Parsed<number> {
  if (text.length < 2 || !text.startsWith(letter)) return fail(invalid(text));
  const digits = text.replace(letter, '');
  if (!/^\d*$/.test(digits)) return fail(invalid(text));
  return ok(digits === '' ? 0 : Number(digits));
}

function category(text: string): Parsed<number> {
  const level = levelOf(text, 'c', invalidCategory);
  if (level.ok && level.value > 1023) return fail(invalidCategory(text));
  return level;
}

function categories(list: string): Parsed<number[]> {
  // Ruby's split(",") without a limit drops trailing empty parts.
  const parts = list.split(',');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const found: number[] = [];
  for (const part of parts) {
    if (part.includes('.')) {
      const ends = ensureParts(part, '.');
      if (!ends.ok) return ends;
      const [lowText, highText] = ends.value as [string, string];
      const low = category(lowText);
      if (!low.ok) return low;
      const high = category(highText);
      if (!high.ok) return high;
      if (high.value < low.value) return fail(invalidCategoryRange(lowText, highText));
      for (let c = low.value; c <= high.value; c++) found.push(c);
    } else {
      const single = category(part);
      if (!single.ok) return single;
      found.push(single.value);
    }
  }
  found.sort((a, b) => a - b);
  if (found.some((c, i) => i > 0 && found[i - 1] === c)) return fail(duplicateCategories());
  return ok(found);
}

export function parseSeRange(range: string): Parsed<SeRange> {
  const parts = ensureParts(range, ':');
  if (!parts.ok) return parts;
  const [sensitivity, categoryList] = parts.value as [string, string | undefined];
  const levels = ensureParts(sensitivity, '-');
  if (!levels.ok) return levels;
  const low = levelOf(levels.value[0] as string, 's', invalidSensitivity);
  if (!low.ok) return low;
  let high = low.value;
  if (levels.value.length === 2) {
    const parsed = levelOf(levels.value[1] as string, 's', invalidSensitivity);
    if (!parsed.ok) return parsed;
    if (parsed.value < low.value) return fail(invalidSeRange(range));
    high = parsed.value;
  }
  const result: SeRange = { low: low.value, high };
  if (categoryList !== undefined) {
    const cats = categories(categoryList);
    if (!cats.ok) return cats;
    result.categories = cats.value;
  }
  return ok(result);
}
