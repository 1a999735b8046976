/**
 * `<DGID>-install.json`: {"instructions":[...]} with one object per operation, in the official
 * shapes of install_instruction.rb to_h (reference 4.5). Informational: nothing reads it back.
 */
import { formatAce, formatRange } from '../../appspec/format.js';
import type { InstallOp } from './operations.js';

export function instructionObject(op: InstallOp): Record<string, unknown> {
  switch (op.type) {
    case 'copy':
      return { type: 'copy', source: op.source, destination: op.destination };
    case 'mkdir':
      return { type: 'mkdir', directory: op.directory };
    case 'chmod':
      return { type: 'chmod', mode: op.mode.text, file: op.file };
    case 'setfacl':
      return { type: 'setfacl', acl: op.acl.map(formatAce), file: op.file };
    case 'semanage':
      return {
        type: 'semanage',
        context: {
          user: op.context.user ?? null,
          role: null,
          type: op.context.type,
          range: op.context.range ? formatRange(op.context.range) : null,
        },
        file: op.file,
      };
    case 'chown':
      return { type: 'chown', owner: op.owner ?? null, group: op.group ?? null, file: op.file };
  }
}

export function installJson(ops: readonly InstallOp[]): string {
  return JSON.stringify({ instructions: ops.map(instructionObject) });
}
