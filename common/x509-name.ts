/**
 * X.509 distinguished names in OpenSSL's one-line form. The agent prints the signer of a
 * deployment specification this way (as the official agent does); the control plane prints the
 * subject of the certificate it signs with.
 */
import type * as pkijs from 'pkijs';

const NAME_KEYS: Record<string, string> = {
  '2.5.4.6': 'C',
  '2.5.4.8': 'ST',
  '2.5.4.7': 'L',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** OpenSSL's one-line form, as the official agent prints names: `/C=US/O=Amazon.com, Inc./CN=…`. */
export function formatName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const value: unknown = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      return `/${NAME_KEYS[tv.type] ?? tv.type}=${typeof value === 'string' ? value : '?'}`;
    })
    .join('');
}
