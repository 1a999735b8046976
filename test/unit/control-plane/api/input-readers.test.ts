/**
 * The shared request-member readers: the error code and message each kind of rule produces, and
 * the choices made where the control plane's readers used to disagree (an empty nextToken is the
 * first page; repeated rollback events are kept once).
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import {
  APPLICATION,
  encodeToken,
  integerValue,
  listOf,
  mapMember,
  nameMember,
  oneOf,
  optionalString,
  page,
  requiredString,
  requiredStringList,
  rollbackConfig,
  stringList,
  stringMember,
  tokenMember,
} from '../../../../control-plane/api/input-readers.js';

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('types', () => {
  it('a member of the wrong JSON type is a ValidationException naming it (list elements by position)', () => {
    expect(failure(() => stringMember({ a: 1 }, 'a'))).toEqual({
      code: 'ValidationException',
      message: "1 validation error detected: Value at 'a' failed to satisfy constraint: Member must be a string",
    });
    expect(failure(() => stringList({ l: ['x', 2] }, 'l')).message).toContain("Value at 'l.2'");
    expect(stringMember({ a: null }, 'a')).toBeUndefined();
  });
});

describe('strings', () => {
  const HOST = { code: 'ClientException', max: 10, noControlCharacters: true, hint: " (it is the host's ARN)" };

  it('a required member that is absent or empty is "<member> is required." unless worded', () => {
    expect(failure(() => requiredString({}, 'HostIdentifier', HOST))).toEqual({
      code: 'ClientException',
      message: 'HostIdentifier is required.',
    });
    expect(failure(() => requiredString({ HostIdentifier: '' }, 'HostIdentifier', HOST)).message).toBe('HostIdentifier is required.');
    expect(
      failure(() => requiredString({}, 'x', { code: 'Invalid', missing: { code: 'XRequiredException', message: 'Pass x.' } })),
    ).toEqual({ code: 'XRequiredException', message: 'Pass x.' });
  });

  it('words length, control-character and pattern rules with the hint', () => {
    expect(failure(() => requiredString({ h: 'x'.repeat(11) }, 'h', HOST)).message).toBe(
      "h is 11 characters long; the limit is 10 (it is the host's ARN).",
    );
    expect(failure(() => requiredString({ h: 'a\u0001' }, 'h', HOST)).message).toBe(
      "h must not contain control characters (it is the host's ARN).",
    );
    expect(failure(() => optionalString({ f: '' }, 'f', { code: 'ClientException', min: 1, max: 64 })).message).toBe(
      'f is 0 characters long: use 1 to 64 characters.',
    );
    expect(
      failure(() =>
        requiredString({ e: 'abc' }, 'e', {
          code: 'ClientException',
          pattern: /^a\/b$/,
          patternText: '^a/b$',
          hint: ': pass it unchanged',
        }),
      ).message,
    ).toBe('e does not match ^a/b$: pass it unchanged.');
    expect(optionalString({}, 'f', { code: 'ClientException', max: 1 })).toBeUndefined();
  });

  it('names: required code, then length and characters with the invalid code', () => {
    expect(failure(() => nameMember({}, 'applicationName', APPLICATION))).toEqual({
      code: 'ApplicationNameRequiredException',
      message: 'The application name must be specified (applicationName).',
    });
    expect(failure(() => nameMember({ applicationName: 'a'.repeat(101) }, 'applicationName', APPLICATION))).toEqual({
      code: 'InvalidApplicationNameException',
      message: 'The application name in applicationName is 101 characters long: use 1 to 100 characters.',
    });
    expect(failure(() => nameMember({ applicationName: 'a b' }, 'applicationName', APPLICATION)).message).toBe(
      'The application name "a b" in applicationName is not valid: use letters, digits and . _ + = , @ - only.',
    );
    expect(nameMember({ applicationName: 'My.App_1+2=3,4@5-6' }, 'applicationName', APPLICATION)).toBe('My.App_1+2=3,4@5-6');
  });
});

describe('enums, maps, lists and integers', () => {
  it('one wording for a value outside its set', () => {
    expect(failure(() => oneOf('X', ['A', 'B', 'C'], { code: 'InvalidX', member: 'x' }))).toEqual({
      code: 'InvalidX',
      message: 'x "X" is not valid: use A, B or C.',
    });
    expect(failure(() => oneOf(undefined, ['A'], { code: 'InvalidX', member: 'x', required: true })).message).toBe(
      'x null is not valid: use A.',
    );
    expect(oneOf(undefined, ['A'], { code: 'InvalidX', member: 'x' })).toBeUndefined();
    expect(failure(() => listOf(['A', 'Z'], ['A', 'B'], { code: 'InvalidX', member: 'xs' })).message).toBe('xs has "Z": use A or B.');
    expect(failure(() => mapMember({ f: { Nope: [] } }, 'f', { keys: ['K1', 'K2'], code: 'InvalidFilter' })).message).toBe(
      'f key "Nope" is not valid: use K1 or K2.',
    );
  });

  it('a required list must be there and within its size', () => {
    const rules = {
      missing: { code: 'IdRequired', message: 'Pass ids.' },
      max: 2,
      tooMany: { code: 'BatchLimitExceededException', what: 'ids' },
    };
    expect(failure(() => requiredStringList({ ids: [] }, 'ids', rules)).code).toBe('IdRequired');
    expect(failure(() => requiredStringList({ ids: ['a', 'b', 'c'] }, 'ids', rules)).message).toBe(
      'The maximum number of ids is 2; got 3.',
    );
  });

  it('integers are whole and within range', () => {
    expect(integerValue(5, 'v', { code: 'Bad', min: 0, max: 100 })).toBe(5);
    expect(failure(() => integerValue(1.5, 'v', { code: 'Bad' })).message).toBe('v must be a whole number.');
    expect(failure(() => integerValue(-1, 'v', { code: 'Bad', min: 0 })).message).toBe('v -1 is less than 0.');
    expect(failure(() => integerValue(101, 'v', { code: 'Bad', max: 100, hint: ' (a percentage)' })).message).toBe(
      'v 101 is more than 100 (a percentage).',
    );
  });
});

describe('pagination', () => {
  const items = Array.from({ length: 150 }, (_, i) => i);

  it('pages of 100 with an opaque token; an absent or empty token is the first page', () => {
    const first = page(items, {});
    expect(first.items).toHaveLength(100);
    expect(page(items, { nextToken: '' })).toEqual(first);
    expect(page(items, { nextToken: first.nextToken })).toEqual({ items: items.slice(100) });
    expect(tokenMember({ nextToken: encodeToken({ s: 7 }) }, 's')).toBe(7);
  });

  it.each(['garbage!', encodeToken({ o: -1 }), encodeToken({ other: 1 })])('%j is InvalidNextTokenException', (nextToken) => {
    expect(failure(() => page(items, { nextToken })).code).toBe('InvalidNextTokenException');
  });
});

describe('rollbackConfig', () => {
  it('keeps repeated events once and refuses unknown or missing ones', () => {
    expect(rollbackConfig({ autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_FAILURE'] } })).toEqual({
      enabled: true,
      events: ['DEPLOYMENT_FAILURE'],
    });
    expect(failure(() => rollbackConfig({ autoRollbackConfiguration: { enabled: true, events: ['WHENEVER'] } })).code).toBe(
      'InvalidAutoRollbackConfigException',
    );
    expect(failure(() => rollbackConfig({ autoRollbackConfiguration: { enabled: true } })).message).toBe(
      'autoRollbackConfiguration is enabled but lists no events: add DEPLOYMENT_FAILURE.',
    );
    expect(rollbackConfig({})).toBeUndefined();
  });
});
