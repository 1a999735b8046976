/**
 * The files section (docs/reference.md section 5.2; file_info.rb): a list of {source, destination}.
 * A missing source is reported first (as the official agent does, even when the destination is
 * missing too); values are kept as the text the user wrote.
 */
import { join, type ParseContext } from './context.js';
import { fileWithoutDestination, fileWithoutSource } from './messages.js';
import type { FileMapping } from './model.js';
import { rubyToS } from './ruby.js';
import type { Entry } from './yaml-tree.js';

const FILE_KEYS = ['source', 'destination'] as const;
const SECTION = 'files section';

export function parseFiles(ctx: ParseContext, entry: Entry | undefined): FileMapping[] {
  const files: FileMapping[] = [];
  if (entry === undefined || ctx.tree.isFalsy(entry.value)) return files;
  const seq = ctx.expectSeq(
    entry.value,
    'the files section',
    'a list of mappings with source and destination keys',
    SECTION,
    'files',
    entry.offset,
  );
  if (seq === null) return files;
  for (const item of ctx.items(seq, 'files')) {
    const map = ctx.expectMap(
      item.node,
      'an entry in the files section',
      'a mapping with source and destination keys',
      SECTION,
      item.path,
      item.offset,
    );
    if (map === null) continue;
    const keys = ctx.mapping(map, item.path);
    ctx.unknownKeys(keys, FILE_KEYS, 'files entry', item.path);
    const sourceEntry = keys.get('source');
    const destinationEntry = keys.get('destination');
    const source = ctx.text(sourceEntry, 'the source of an entry in the files section', SECTION, join(item.path, 'source'));
    const destination = ctx.text(
      destinationEntry,
      'the destination of an entry in the files section',
      SECTION,
      join(item.path, 'destination'),
    );
    if (source === null) {
      ctx.error(fileWithoutSource(), join(item.path, 'source'), sourceEntry?.offset ?? item.offset);
      continue;
    }
    if (destination === null) {
      ctx.error(
        fileWithoutDestination(rubyToS(ctx.tree, sourceEntry?.value ?? null)),
        join(item.path, 'destination'),
        destinationEntry?.offset ?? item.offset,
      );
      continue;
    }
    if (source === undefined || destination === undefined) continue;
    files.push({ source, destination, where: ctx.where(item.path, item.offset) });
  }
  return files;
}
