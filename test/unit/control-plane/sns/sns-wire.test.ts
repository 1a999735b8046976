/**
 * The SNS Query wire format: which requests are SNS's, map parameters, and the XML shapes
 * (results with and without a Result element, member lists, attribute maps, errors).
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { credentialService } from '../../../../control-plane/http/credential-scope.js';
import { entryMap, isSnsRequest, parseSnsQuery, SnsError, snsErrorXml, snsResultXml, str } from '../../../../control-plane/sns/sns-wire.js';

const req = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as IncomingMessage;
const signedFor = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20240101/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc`;

describe('SNS requests', () => {
  it('are told apart from ELBv2 by the credential scope or the URL Version', () => {
    expect(credentialService(req('/', signedFor('sns')))).toBe('sns');
    expect(credentialService(req('/', signedFor('elasticloadbalancing')))).toBe('elasticloadbalancing');
    expect(credentialService(req('/'))).toBeUndefined();
    expect(isSnsRequest(req('/', signedFor('sns')))).toBe(true);
    expect(isSnsRequest(req('/', signedFor('elasticloadbalancing')))).toBe(false);
    expect(isSnsRequest(req('/?Action=ListTopics&Version=2010-03-31'))).toBe(true);
    expect(isSnsRequest(req('/?Action=DescribeTargetGroups&Version=2015-12-01'))).toBe(false);
    expect(isSnsRequest(req('/'))).toBe(false);
  });

  it('read maps and single values, and refuse what is not', () => {
    const input = parseSnsQuery(
      'Action=CreateTopic&Name=t&Attributes.entry.2.key=B&Attributes.entry.2.value=2&Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=Deploys',
    );
    expect(str(input, 'Name')).toBe('t');
    expect([...entryMap(input, 'Attributes')]).toEqual([
      ['DisplayName', 'Deploys'],
      ['B', '2'],
    ]);
    expect(entryMap(input, 'Missing').size).toBe(0);
    expect(() => str(input, 'TopicArn', true)).toThrow(/Invalid parameter: TopicArn is required/);
    expect(() => parseSnsQuery('__proto__.x=1')).toThrow(SnsError);
    const tooMany = Array.from({ length: 3 }, (_, i) => `A.entry.${i + 1}.key=k${i}&A.entry.${i + 1}.value=v`).join('&');
    expect(() => entryMap(parseSnsQuery(tooMany), 'A', 2)).toThrow(/at most 2/);
  });
});

describe('SNS XML', () => {
  it('writes results in SNS shapes', () => {
    const xml = snsResultXml(
      'ListTopics',
      { Topics: [{ TopicArn: 'arn:aws:sns:us-east-1:000000000000:a&b' }], NextToken: undefined },
      'req-1',
    );
    expect(xml).toContain('<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">');
    expect(xml).toContain(
      '<ListTopicsResult><Topics><member><TopicArn>arn:aws:sns:us-east-1:000000000000:a&amp;b</TopicArn></member></Topics></ListTopicsResult>',
    );
    expect(xml).toContain('<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ListTopicsResponse>');
    expect(snsResultXml('GetTopicAttributes', { Attributes: new Map([['Owner', '1']]) }, 'r')).toContain(
      '<Attributes><entry><key>Owner</key><value>1</value></entry></Attributes>',
    );
    const empty = snsResultXml('DeleteTopic', undefined, 'r');
    expect(empty).not.toContain('DeleteTopicResult');
    expect(empty).toContain('<DeleteTopicResponse');
  });

  it('writes errors as ErrorResponse with Type, Code and Message', () => {
    expect(snsErrorXml('NotFound', 'Topic does not exist <x>', 'r-2')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">' +
        '<Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist &lt;x&gt;</Message></Error>' +
        '<RequestId>r-2</RequestId></ErrorResponse>',
    );
  });
});
