import { describe, expect, it } from 'vitest';
import { shownUrl } from '../../../../control-plane/log/clip.js';

describe('shownUrl', () => {
  it('keeps scheme, host and port, and hides user info, path, query and fragment', () => {
    expect(shownUrl('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000/');
    expect(shownUrl('https://hooks.example.com/services/T000/B000/XXXXSECRET')).toBe('https://hooks.example.com/…');
    expect(shownUrl('https://user:s3cret@example.com')).toBe('https://example.com/…');
    expect(shownUrl('http://example.com/?token=abc')).toBe('http://example.com/…');
    expect(shownUrl('not a url')).toBe('(not a URL)');
  });
});
