/**
 * The local S3's pure parts: the aws-chunked decoder (fed split at every byte boundary), the
 * checksum implementations against published check values, and the request-XML reader.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeAwsChunked, type ChunkedResult } from '../../../../control-plane/s3/aws-chunked.js';
import { algorithmOfHeader, createChecksummer, tableCrc32 } from '../../../../control-plane/s3/checksums.js';
import { S3Error } from '../../../../control-plane/s3/s3-error.js';
import { childText, children, parseXml, xmlDocument, text, el } from '../../../../control-plane/s3/s3-xml.js';

async function decode(pieces: Buffer[]): Promise<{ data: Buffer; trailers: Map<string, string> }> {
  const result: ChunkedResult = { trailers: new Map() };
  async function* source(): AsyncGenerator<Buffer> {
    yield* pieces;
  }
  const out: Buffer[] = [];
  for await (const chunk of decodeAwsChunked(source(), result)) out.push(Buffer.from(chunk));
  return { data: Buffer.concat(out), trailers: result.trailers };
}

async function decodeError(pieces: Buffer[]): Promise<S3Error> {
  try {
    await decode(pieces);
  } catch (err) {
    if (err instanceof S3Error) return err;
    throw err;
  }
  throw new Error('expected the decoder to fail');
}

const signed = Buffer.from(
  '5;chunk-signature=aaaa\r\nhello\r\n' +
    '7;chunk-signature=bbbb\r\n, world\r\n' +
    '0;chunk-signature=cccc\r\n' +
    'x-amz-checksum-crc32:abcd==\r\n' +
    'x-amz-trailer-signature:dddd\r\n' +
    '\r\n',
);

describe('aws-chunked decoding', () => {
  it('decodes signed chunks and trailers however the bytes are split', async () => {
    for (let split = 0; split <= signed.length; split++) {
      const { data, trailers } = await decode([signed.subarray(0, split), signed.subarray(split)]);
      expect(data.toString(), `split at ${split}`).toBe('hello, world');
      expect([...trailers]).toEqual([['x-amz-checksum-crc32', 'abcd==']]);
    }
    const bytewise = await decode([...signed].map((b) => Buffer.from([b])));
    expect(bytewise.data.toString()).toBe('hello, world');
  });

  it('decodes unsigned chunks of any size, and a final chunk without trailers', async () => {
    const big = Buffer.alloc(100_000, 7);
    const body = Buffer.concat([Buffer.from(`${big.length.toString(16)}\r\n`), big, Buffer.from('\r\n0\r\n\r\n')]);
    const { data, trailers } = await decode([body.subarray(0, 1000), body.subarray(1000, 99_000), body.subarray(99_000)]);
    expect(data.equals(big)).toBe(true);
    expect(trailers.size).toBe(0);
    // Some clients end after the last trailer line without the blank line.
    const lenient = await decode([Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-sha256:q==')]);
    expect(lenient.data.toString()).toBe('abc');
    expect(lenient.trailers.get('x-amz-checksum-sha256')).toBe('q==');
  });

  it('rejects truncated and malformed framing with S3 errors', async () => {
    expect((await decodeError([Buffer.from('5\r\nhel')])).code).toBe('IncompleteBody');
    expect((await decodeError([Buffer.from('5\r\nhello\r\n')])).code).toBe('IncompleteBody');
    expect((await decodeError([Buffer.from('zz\r\nhello\r\n0\r\n\r\n')])).code).toBe('InvalidRequest');
    expect((await decodeError([Buffer.from('5\r\nhelloXX0\r\n\r\n')])).code).toBe('InvalidRequest');
    expect((await decodeError([Buffer.from('1'.repeat(10_000))])).message).toMatch(/too long/);
  });
});

describe('checksums', () => {
  const check = Buffer.from('123456789');
  const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

  it('match the published check values', () => {
    const digest = (alg: 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256', parts: Buffer[]): string => {
      const s = createChecksummer(alg)!;
      for (const p of parts) s.update(p);
      return hex(s.digest());
    };
    expect(digest('CRC32', [check])).toBe('cbf43926');
    expect(digest('CRC32C', [check.subarray(0, 4), check.subarray(4)])).toBe('e3069283');
    expect(digest('SHA1', [check])).toBe('f7c3bc1d808e04732adf679965ccc34ca7ae3441');
    expect(digest('SHA256', [check])).toBe('15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225');
    expect(createChecksummer('CRC64NVME')).toBeUndefined();
  });

  it('the table CRC32 agrees with zlib, incrementally', () => {
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff));
    expect(tableCrc32(0xedb88320, data)).toBe(zlibCrc32(data));
    expect(tableCrc32(0xedb88320, data.subarray(1234), tableCrc32(0xedb88320, data.subarray(0, 1234)))).toBe(zlibCrc32(data));
  });

  it('recognises checksum header names only', () => {
    expect(algorithmOfHeader('x-amz-checksum-crc32c')).toBe('CRC32C');
    expect(algorithmOfHeader('X-Amz-Checksum-SHA256')).toBe('SHA256');
    expect(algorithmOfHeader('x-amz-checksum-mode')).toBeUndefined();
    expect(algorithmOfHeader('x-amz-checksum-type')).toBeUndefined();
  });
});

describe('S3 XML', () => {
  it('reads request documents with namespaces, entities, comments and CDATA', () => {
    const doc = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>' +
        '<Object><Key> a &amp; b &#x263A;</Key></Object><s3:Object><Key><![CDATA[<raw>]]></Key><VersionId>v1</VersionId></s3:Object></Delete>',
    );
    expect(doc.name).toBe('Delete');
    expect(childText(doc, 'Quiet')).toBe('true');
    const objects = children(doc, 'Object');
    expect(objects.map((o) => o.children[0]!.text)).toEqual([' a & b ☺', '<raw>']);
    expect(childText(objects[1]!, 'VersionId')).toBe('v1');
  });

  it('rejects malformed documents as MalformedXML', () => {
    for (const bad of ['', '<a><b></a>', '<a>', '<a></a><b></b>', 'text', '<a>&bogus;</a>', '<a>&#xFFFFFFF;</a>']) {
      let code: string | undefined;
      try {
        parseXml(bad);
      } catch (err) {
        code = (err as S3Error).code;
      }
      expect(code, bad).toBe('MalformedXML');
    }
  });

  it('escapes text in responses', () => {
    expect(xmlDocument('R', el('K', text('Key', 'a<b>&"c\'')))).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><K><Key>a&lt;b&gt;&amp;&quot;c&apos;</Key></K></R>',
    );
  });
});
