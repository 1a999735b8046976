/**
 * What add-host accepts from its caller, checked before anything is sent or written: the host
 * name (the instance name, the IAM user in its ARN and the default directory, so the strictest of
 * the three rules: an IAM user name of letters, digits and . _ - that is not a path trick) and
 * --tag KEY=VALUE arguments (the CodeDeploy tag limits: a key of 1-128 characters, a value of at
 * most 256, at most 10 tags per instance). Pure.
 */

export interface HostTag {
  Key: string;
  Value: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;
export const MAX_TAGS = 10;

/** Thrown for a bad name or tag: the message is the whole one-line explanation. */
export class HostInputError extends Error {}

export function checkHostName(name: string): void {
  if (!NAME.test(name))
    throw new HostInputError(
      `the host name ${JSON.stringify(name)} is not valid: use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit (it is the instance name and the IAM user name)`,
    );
}

/** "k=v" (split at the first "="; "k=" for an empty value) to a tag. */
export function parseTagArgument(text: string): HostTag {
  const at = text.indexOf('=');
  if (at < 0) throw new HostInputError(`--tag must be KEY=VALUE (KEY= for an empty value), got ${JSON.stringify(text)}`);
  return checkTag({ Key: text.slice(0, at), Value: text.slice(at + 1) });
}

export function checkTag(tag: HostTag): HostTag {
  const shown = JSON.stringify(`${tag.Key}=${tag.Value}`);
  if (tag.Key.trim() === '') throw new HostInputError(`the tag ${shown} has no key: use KEY=VALUE`);
  if (tag.Key.length > TAG_KEY_MAX) throw new HostInputError(`the tag key in ${shown} is longer than ${TAG_KEY_MAX} characters`);
  if (tag.Value.length > TAG_VALUE_MAX) throw new HostInputError(`the tag value in ${shown} is longer than ${TAG_VALUE_MAX} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(tag.Key + tag.Value)) throw new HostInputError(`the tag ${shown} contains control characters`);
  return tag;
}

/** All tags checked, no key given twice, at most MAX_TAGS. */
export function checkTags(tags: readonly HostTag[]): HostTag[] {
  const seen = new Set<string>();
  for (const tag of tags) {
    checkTag(tag);
    if (seen.has(tag.Key)) throw new HostInputError(`the tag key ${JSON.stringify(tag.Key)} is given twice: give each key once`);
    seen.add(tag.Key);
  }
  if (tags.length > MAX_TAGS) throw new HostInputError(`${tags.length} tags given; an on-premises instance can have at most ${MAX_TAGS}`);
  return [...tags];
}
