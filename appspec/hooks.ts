/**
 * The hooks section (docs/reference.md section 5.2; application_specification.rb parse_hooks,
 * script_info.rb): event name -> list of scripts, each with a non-blank location, optional runas,
 * sudo (Ruby truthiness) and timeout ((timeout || 3600).to_i, must be > 0).
 */
import { isMap, isScalar, isSeq, type Scalar } from 'yaml';
import { join, type ParseContext } from './context.js';
import { emptyRunas, invalidTimeout, scriptWithoutLocation, sudoNotBoolean } from './messages.js';
import type { HookScript } from './model.js';
import { rubyStringToI } from './ruby.js';
import type { Entry, ValueNode } from './yaml-tree.js';

const SCRIPT_KEYS = ['location', 'runas', 'sudo', 'timeout'] as const;
const DEFAULT_TIMEOUT = 3600;
const SECTION = 'hooks section';

export function parseHooks(ctx: ParseContext, entry: Entry | undefined): Map<string, HookScript[]> {
  const hooks = new Map<string, HookScript[]>();
  if (entry === undefined || ctx.tree.isFalsy(entry.value)) return hooks;
  const map = ctx.expectMap(
    entry.value,
    'the hooks section',
    'a mapping of lifecycle event names to lists of scripts',
    SECTION,
    'hooks',
    entry.offset,
  );
  if (map === null) return hooks;
  for (const [event, eventEntry] of ctx.mapping(map, 'hooks')) {
    if (ctx.tree.isFalsy(eventEntry.value)) continue;
    const path = join('hooks', event);
    const seq = ctx.expectSeq(
      eventEntry.value,
      `the ${event} hook in the hooks section`,
      'a list of scripts',
      SECTION,
      path,
      eventEntry.offset,
    );
    if (seq === null) continue;
    const scripts: HookScript[] = [];
    for (const item of ctx.items(seq, path)) {
      const script = parseScript(ctx, item.node, item.path, item.offset);
      if (script) scripts.push(script);
    }
    if (scripts.length > 0) hooks.set(event, scripts);
  }
  return hooks;
}

function parseScript(ctx: ParseContext, node: ValueNode | null, path: string, offset: number): HookScript | undefined {
  const map = ctx.expectMap(node, 'a script in the hooks section', 'a mapping with a location key', SECTION, path, offset);
  if (map === null) return undefined;
  const keys = ctx.mapping(map, path);
  ctx.unknownKeys(keys, SCRIPT_KEYS, 'hook script', path);
  let valid = true;

  const locationEntry = keys.get('location');
  const rawLocation = ctx.text(locationEntry, 'the location of a script in the hooks section', SECTION, join(path, 'location'));
  const location = rawLocation?.trim() ?? '';
  if (rawLocation === undefined) {
    valid = false; // reported as a structural error
  } else if (location === '') {
    ctx.error(scriptWithoutLocation(), join(path, 'location'), locationEntry?.offset ?? offset);
    valid = false;
  }

  const runasEntry = keys.get('runas');
  const rawRunas = ctx.text(runasEntry, 'the runas value of a script in the hooks section', SECTION, join(path, 'runas'));
  const runas = rawRunas?.trim();
  if (rawRunas === undefined) valid = false;
  else if (runas === '' && runasEntry) ctx.warn(emptyRunas(), join(path, 'runas'), runasEntry.offset);

  const sudo = parseSudo(ctx, keys.get('sudo'), join(path, 'sudo'));

  const timeoutEntry = keys.get('timeout');
  const timeoutSeconds = timeoutOf(ctx, timeoutEntry?.value ?? null);
  if (timeoutSeconds === undefined) {
    ctx.error(invalidTimeout(), join(path, 'timeout'), timeoutEntry?.offset ?? offset);
    valid = false;
  }

  if (!valid || timeoutSeconds === undefined) return undefined;
  const script: HookScript = { location, sudo, timeoutSeconds, where: ctx.where(path, offset) };
  if (runas) script.runas = runas;
  return script;
}

function parseSudo(ctx: ParseContext, entry: Entry | undefined, path: string): boolean {
  if (entry === undefined || ctx.tree.isNull(entry.value)) return false;
  const node = entry.value;
  if (node !== null && isScalar(node)) {
    const bool = ctx.tree.psychBoolean(node);
    if (bool !== undefined) return bool;
    ctx.warn(sudoNotBoolean(ctx.tree.scalarText(node)), path, entry.offset);
    return true;
  }
  ctx.warn(sudoNotBoolean(ctx.tree.kindOf(node)), path, entry.offset);
  return true;
}

/** Ruby (timeout || 3600).to_i, or undefined when it is not a positive number of seconds. */
function timeoutOf(ctx: ParseContext, node: ValueNode | null): number | undefined {
  let seconds: number;
  if (ctx.tree.isFalsy(node)) seconds = DEFAULT_TIMEOUT;
  else if (node === null || isMap(node) || isSeq(node)) return undefined;
  else seconds = scalarSeconds(node);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

function scalarSeconds(node: Scalar): number {
  const value = node.value;
  if (typeof value === 'string') return rubyStringToI(value);
  if (typeof value === 'number') {
    const src = typeof node.source === 'string' ? node.source : '';
    // A plain integer is read as the decimal digits written (030 is 30, not YAML 1.1 octal 24).
    if (/^[-+]?[0-9][0-9_]*$/.test(src)) return rubyStringToI(src);
    return Number.isFinite(value) ? Math.trunc(value) : Number.NaN;
  }
  if (typeof value === 'bigint') return Number(value);
  // true (Ruby: true.to_i is a NoMethodError), dates and other tagged values.
  return Number.NaN;
}
