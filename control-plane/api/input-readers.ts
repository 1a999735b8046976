/**
 * The one set of request-member readers for the control plane's JSON APIs (the commands API, the
 * public CodeDeploy API, and the engine's CreateDeployment checks). Every reader takes the parsed
 * body (or a nested structure of it), checks one member and either returns it typed or throws an
 * ApiError with the service's code and a message that names the member and says how to fix it.
 *
 * - A member of the wrong JSON type is a `ValidationException` in the service validator's words.
 * - An absent or empty required member is the operation's `<Member>RequiredException` (or the
 *   commands API's `ClientException`), "<member> is required." unless the caller words it.
 * - Length, character and pattern limits, enumerations and integer ranges raise the code the
 *   caller names, with one wording for each kind of rule.
 * Caller text is quoted only clipped (log/clip.ts), so no message grows with what was sent.
 */
import { quoted } from '../log/clip.js';
import type { AutoRollbackConfiguration } from '../model.js';
import { ApiError } from './api-error.js';

export type Input = Record<string, unknown>;

function wrongType(member: string, what: string): ApiError {
  return new ApiError(
    'ValidationException',
    `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must be ${what}`,
  );
}

/** A string member; absent or null is undefined. */
export function stringMember(input: Input, member: string): string | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw wrongType(member, 'a string');
  return v;
}

export function booleanMember(input: Input, member: string): boolean | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw wrongType(member, 'a boolean');
  return v;
}

export function arrayMember(input: Input, member: string): unknown[] | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw wrongType(member, 'a list');
  return v;
}

export function objectMember(input: Input, member: string): Input | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw wrongType(member, 'a structure');
  return v as Input;
}

/** A list of strings; an element of another type is named by its 1-based position. */
export function stringList(input: Input, member: string): string[] | undefined {
  return arrayMember(input, member)?.map((v, i) => {
    if (typeof v !== 'string') throw wrongType(`${member}.${i + 1}`, 'a string');
    return v;
  });
}

/** A list of structures. */
export function structList(input: Input, member: string): Input[] | undefined {
  return arrayMember(input, member)?.map((v, i) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw wrongType(`${member}.${i + 1}`, 'a structure');
    return v as Input;
  });
}

export interface ListRules {
  /** An absent or empty list. */
  missing: { code: string; message: string };
  max: number;
  /** A longer list: "The maximum number of <what> is <max>; got <n>." */
  tooMany: { code: string; what: string };
}

/** A required list (of any elements) held to a size limit. */
export function requiredList(input: Input, member: string, rules: ListRules): unknown[] {
  return checkListSize(arrayMember(input, member), rules);
}

/** A required list of strings held to a size limit. */
export function requiredStringList(input: Input, member: string, rules: ListRules): string[] {
  return checkListSize(stringList(input, member), rules);
}

function checkListSize<T>(list: T[] | undefined, rules: ListRules): T[] {
  if (!list || list.length === 0) throw new ApiError(rules.missing.code, rules.missing.message);
  if (list.length > rules.max)
    throw new ApiError(rules.tooMany.code, `The maximum number of ${rules.tooMany.what} is ${rules.max}; got ${list.length}.`);
  return list;
}

/** A map (structure with free keys) whose keys must be among `keys`. */
export function mapMember(input: Input, member: string, rule: { keys: readonly string[]; code: string }): Input | undefined {
  const map = objectMember(input, member);
  for (const key of Object.keys(map ?? {})) {
    if (!rule.keys.includes(key))
      throw new ApiError(rule.code, `${member} key ${JSON.stringify(key)} is not valid: use ${alternatives(rule.keys)}.`);
  }
  return map;
}

export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** "a", "a or b", "a, b or c". */
export function alternatives(values: readonly string[]): string {
  return values.length <= 1 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1] as string}`;
}

export interface StringRules {
  /** The code of a broken rule. */
  code: string;
  min?: number;
  max?: number;
  noControlCharacters?: boolean;
  pattern?: RegExp;
  /** The pattern as messages show it (default its source). */
  patternText?: string;
  /** Whole messages for a caller that words a rule its own way. */
  messages?: { length?: (length: number) => string; pattern?: (value: string) => string };
  /** How to fix it, appended to every rule's message: " (it is the host's ARN)", ": pass it unchanged". */
  hint?: string;
}

export interface RequiredRules extends StringRules {
  /** An absent or empty member (default: `code`, "<member> is required."). */
  missing?: { code: string; message: string };
}

/** Holds a string to its rules: length first, then characters, then the pattern. */
export function checkString(value: string, member: string, rules: StringRules): string {
  const hint = rules.hint ?? '';
  const fail = (message: string) => new ApiError(rules.code, message);
  const tooShort = rules.min !== undefined && value.length < rules.min;
  const tooLong = rules.max !== undefined && value.length > rules.max;
  if (tooShort || tooLong) {
    if (rules.messages?.length) throw fail(rules.messages.length(value.length));
    if (rules.min !== undefined && rules.max !== undefined)
      throw fail(`${member} is ${value.length} characters long: use ${rules.min} to ${rules.max} characters${hint}.`);
    if (tooLong) throw fail(`${member} is ${value.length} characters long; the limit is ${rules.max}${hint}.`);
    throw fail(`${member} is ${value.length} characters long; it must have at least ${rules.min}${hint}.`);
  }
  if (rules.noControlCharacters && hasControlCharacter(value)) throw fail(`${member} must not contain control characters${hint}.`);
  if (rules.pattern && !rules.pattern.test(value)) {
    throw fail(
      rules.messages?.pattern
        ? rules.messages.pattern(value)
        : `${member} does not match ${rules.patternText ?? rules.pattern.source}${hint}.`,
    );
  }
  return value;
}

/** An optional string member held to `rules` when present (an empty string is checked too). */
export function optionalString(input: Input, member: string, rules: StringRules): string | undefined {
  const value = stringMember(input, member);
  return value === undefined ? undefined : checkString(value, member, rules);
}

/** A required string member: absent or empty is `missing`, otherwise held to `rules`. */
export function requiredString(input: Input, member: string, rules: RequiredRules): string {
  const value = stringMember(input, member);
  if (value === undefined || value === '') {
    throw new ApiError(rules.missing?.code ?? rules.code, rules.missing?.message ?? `${member} is required.`);
  }
  return checkString(value, member, rules);
}

export interface EnumRule {
  code: string;
  /** How messages name the member, e.g. "fileExistsBehavior" or "targetFilters key". */
  member: string;
  /** Absent (undefined) is an error too. */
  required?: boolean;
}

/** One of `allowed`; undefined passes unless the rule makes it required. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], rule: EnumRule & { required: true }): T;
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], rule: EnumRule): T | undefined;
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], rule: EnumRule): T | undefined {
  if (value === undefined && !rule.required) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ApiError(rule.code, `${rule.member} ${JSON.stringify(value ?? null)} is not valid: use ${alternatives(allowed)}.`);
}

/** A list whose every element is one of `allowed`. */
export function listOf<T extends string>(values: readonly string[], allowed: readonly T[], rule: { code: string; member: string }): T[] {
  const bad = values.find((v) => !(allowed as readonly string[]).includes(v));
  if (bad !== undefined) throw new ApiError(rule.code, `${rule.member} has ${JSON.stringify(bad)}: use ${alternatives(allowed)}.`);
  return values as T[];
}

/** A whole number within [min, max]; `member` names it in messages. */
export function integerValue(value: unknown, member: string, rule: { code: string; min?: number; max?: number; hint?: string }): number {
  const hint = rule.hint ?? '';
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ApiError(rule.code, `${member} must be a whole number${hint}.`);
  if (rule.min !== undefined && value < rule.min) throw new ApiError(rule.code, `${member} ${value} is less than ${rule.min}${hint}.`);
  if (rule.max !== undefined && value > rule.max) throw new ApiError(rule.code, `${member} ${value} is more than ${rule.max}${hint}.`);
  return value;
}

// ---- Pagination: nextToken is opaque base64 JSON holding one non-negative integer.

/** The page size of every List operation (the real service answers at most 100 items a page too). */
export const PAGE_SIZE = 100;

export function encodeToken(value: Record<string, number>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

/** The number under `key` in the nextToken member; absent or empty is undefined (the first page). */
export function tokenMember(input: Input, key: string): number | undefined {
  const token = stringMember(input, 'nextToken');
  if (token === undefined || token === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    const v = typeof parsed === 'object' && parsed !== null ? (parsed as Input)[key] : undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  } catch {
    // fall through
  }
  throw new ApiError(
    'InvalidNextTokenException',
    'The next token was specified in an invalid format: pass the nextToken of the previous answer unchanged.',
  );
}

/** One page of `items` from the offset in `nextToken`. */
export function page<T>(items: readonly T[], input: Input): { items: T[]; nextToken?: string } {
  const offset = tokenMember(input, 'o') ?? 0;
  const slice = items.slice(offset, offset + PAGE_SIZE);
  const next = offset + PAGE_SIZE;
  return next < items.length ? { items: slice, nextToken: encodeToken({ o: next }) } : { items: slice };
}

// ---- CodeDeploy members shared by several operations.

/**
 * The characters CodeDeploy allows in application, deployment group and deployment configuration
 * names (CodeDeploy quotas: letters, digits, and . _ + = , @ -), 1 to 100 of them.
 */
const NAME_CHARACTERS = /^[A-Za-z0-9._+=,@-]+$/;
const NAME_MAX = 100;

export interface NameCodes {
  required: string;
  invalid: string;
  what: string;
  /** Also held to NAME_CHARACTERS (instance names have their own rule, registry-input.ts checkInstanceName). */
  charset?: boolean;
}

export const APPLICATION: NameCodes = {
  required: 'ApplicationNameRequiredException',
  invalid: 'InvalidApplicationNameException',
  what: 'application name',
  charset: true,
};
export const GROUP: NameCodes = {
  required: 'DeploymentGroupNameRequiredException',
  invalid: 'InvalidDeploymentGroupNameException',
  what: 'deployment group name',
  charset: true,
};
export const CONFIG: NameCodes = {
  required: 'DeploymentConfigNameRequiredException',
  invalid: 'InvalidDeploymentConfigNameException',
  what: 'deployment configuration name',
  charset: true,
};
export const INSTANCE: NameCodes = {
  required: 'InstanceNameRequiredException',
  invalid: 'InvalidInstanceNameException',
  what: 'on-premises instance name',
};

function nameRules(member: string, codes: Omit<NameCodes, 'required'>): StringRules {
  return {
    code: codes.invalid,
    max: NAME_MAX,
    ...(codes.charset ? { pattern: NAME_CHARACTERS } : {}),
    messages: {
      length: (n) => `The ${codes.what} in ${member} is ${n} characters long: use 1 to ${NAME_MAX} characters.`,
      pattern: (v) => `The ${codes.what} ${quoted(v)} in ${member} is not valid: use letters, digits and . _ + = , @ - only.`,
    },
  };
}

/** A required name member: absent or empty → `<required>`, too long or bad characters → `<invalid>`. */
export function nameMember(input: Input, member: string, codes: NameCodes): string {
  return requiredString(input, member, {
    ...nameRules(member, codes),
    missing: { code: codes.required, message: `The ${codes.what} must be specified (${member}).` },
  });
}

/** A name from elsewhere (a list element, an engine call) held to the same rules. */
export function checkName(value: string, member: string, codes: Omit<NameCodes, 'required'>): void {
  checkString(value, member, nameRules(member, codes));
}

const ROLLBACK_EVENTS = ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM', 'DEPLOYMENT_STOP_ON_REQUEST'] as const;

/** autoRollbackConfiguration (deployment groups and CreateDeployment); repeated events are kept once. */
export function rollbackConfig(input: Input): AutoRollbackConfiguration | undefined {
  const c = objectMember(input, 'autoRollbackConfiguration');
  if (!c) return undefined;
  const enabled = booleanMember(c, 'enabled') ?? false;
  const events = listOf(stringList(c, 'events') ?? [], ROLLBACK_EVENTS, {
    code: 'InvalidAutoRollbackConfigException',
    member: 'autoRollbackConfiguration.events',
  });
  if (enabled && events.length === 0)
    throw new ApiError(
      'InvalidAutoRollbackConfigException',
      'autoRollbackConfiguration is enabled but lists no events: add DEPLOYMENT_FAILURE.',
    );
  return { enabled, events: [...new Set(events)] };
}
