import { describe, expect, it } from 'vitest';
import { checkHostName, checkTags, HostInputError, parseTagArgument } from '../../../../control-plane/hosts/host-input.js';

describe('add-host input', () => {
  it.each(['web-1', 'a', 'Host_2.prod', 'x'.repeat(64)])('accepts the name %s', (name) => {
    expect(() => checkHostName(name)).not.toThrow();
  });

  it.each(['', '.', '..', '-x', 'a/b', 'a b', 'x'.repeat(65), 'héllo', 'a\n'])('refuses the name %j', (name) => {
    expect(() => checkHostName(name)).toThrow(HostInputError);
  });

  it('reads KEY=VALUE tags, splitting at the first "="', () => {
    expect(parseTagArgument('env=dev')).toEqual({ Key: 'env', Value: 'dev' });
    expect(parseTagArgument('empty=')).toEqual({ Key: 'empty', Value: '' });
    expect(parseTagArgument('url=a=b')).toEqual({ Key: 'url', Value: 'a=b' });
  });

  it.each([
    ['novalue', /must be KEY=VALUE/],
    ['=v', /has no key/],
    [`${'k'.repeat(129)}=v`, /longer than 128/],
    [`k=${'v'.repeat(257)}`, /longer than 256/],
    ['k=a\tb', /control characters/],
  ])('refuses the tag %j', (text, message) => {
    expect(() => parseTagArgument(text)).toThrow(message);
  });

  it('refuses a key given twice and more than 10 tags', () => {
    expect(() =>
      checkTags([
        { Key: 'a', Value: '1' },
        { Key: 'a', Value: '2' },
      ]),
    ).toThrow(/given twice/);
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: '' }));
    expect(() => checkTags(eleven)).toThrow(/at most 10/);
    expect(checkTags(eleven.slice(0, 10))).toHaveLength(10);
  });
});
