import type { Ace, SeRange } from './model.js';

/** "default:user:bob:rwx", "mask::r-x": the normalised text setfacl takes (docs/reference.md section 5.2). */
export function formatAce(ace: Ace): string {
  const perms = `${ace.read ? 'r' : '-'}${ace.write ? 'w' : '-'}${ace.execute ? 'x' : '-'}`;
  return `${ace.isDefault ? 'default:' : ''}${ace.type}:${ace.name}:${perms}`;
}

/** "s3-s7:c5,c8.c10,c17": consecutive categories merged, as semanage -r takes it. */
export function formatRange(range: SeRange): string {
  let text = range.low === range.high ? `s${range.low}` : `s${range.low}-s${range.high}`;
  const cats = range.categories;
  if (cats && cats.length > 0) {
    const parts: string[] = [];
    let start = cats[0] as number;
    let prev = start;
    for (let i = 1; i <= cats.length; i++) {
      const cur = cats[i];
      if (cur !== undefined && cur === prev + 1) {
        prev = cur;
        continue;
      }
      parts.push(start === prev ? `c${start}` : `c${start}.c${prev}`);
      if (cur !== undefined) {
        start = cur;
        prev = cur;
      }
    }
    text += `:${parts.join(',')}`;
  }
  return text;
}
