import { describe, expect, it } from 'vitest';
import { isValidUserName, lookupUser, parsePasswdLine } from '../../../agent/hooks/user-lookup.js';

describe('user lookup', () => {
  it('parses a passwd line', () => {
    expect(parsePasswdLine('deploy:x:1001:1002:Deploy User,,,:/home/deploy:/bin/bash\n')).toEqual({
      name: 'deploy',
      uid: 1001,
      gid: 1002,
      home: '/home/deploy',
      shell: '/bin/bash',
    });
    expect(parsePasswdLine('broken:x:1001')).toBeUndefined();
    expect(parsePasswdLine('bad:x:abc:1:::')).toBeUndefined();
  });

  it.each([
    ['deploy', true],
    ['www-data', true],
    ['user.name', true],
    ['-u', false],
    ['a b', false],
    ['a:b', false],
    ['', false],
    ['a/b', false],
  ])('isValidUserName(%j) = %s', (name, ok) => {
    expect(isValidUserName(name)).toBe(ok);
  });

  it('finds root through getent and nothing for a missing or invalid name', async () => {
    expect(await lookupUser('root')).toMatchObject({ name: 'root', uid: 0, gid: 0 });
    expect(await lookupUser('no-such-user-cda-test')).toBeUndefined();
    expect(await lookupUser('--help')).toBeUndefined();
  });
});
