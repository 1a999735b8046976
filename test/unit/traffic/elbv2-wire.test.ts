import { describe, expect, it } from 'vitest';
import { ElbError } from '../../../control-plane/traffic/elb-model.js';
import {
  errorXml,
  escapeXml,
  int,
  bool,
  parseQuery,
  resultXml,
  strList,
  objList,
  MAX_LIST_MEMBERS,
} from '../../../control-plane/traffic/elbv2-wire.js';

describe('ELBv2 Query API wire format', () => {
  it('nests member lists and structures in index order', () => {
    const q = parseQuery(
      'Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aa&Targets.member.2.Id=b&Targets.member.2.Port=81&Targets.member.1.Id=a&Matcher.HttpCode=200-299&Subnets.member.1=s1&Subnets.member.2=s2&Tags.member.1.Key=k&Tags.member.1.Value=v%20w',
    );
    expect(q).toEqual({
      Action: 'RegisterTargets',
      Version: '2015-12-01',
      TargetGroupArn: 'arn:a',
      Targets: [{ Id: 'a' }, { Id: 'b', Port: '81' }],
      Matcher: { HttpCode: '200-299' },
      Subnets: ['s1', 's2'],
      Tags: [{ Key: 'k', Value: 'v w' }],
    });
    expect(strList(q, 'Subnets')).toEqual(['s1', 's2']);
    expect(objList(q, 'Targets')).toHaveLength(2);
  });

  it('refuses list indexes out of range and prototype keys, so a hostile body cannot grow memory or objects', () => {
    expect(() => parseQuery(`Targets.member.${MAX_LIST_MEMBERS + 1}.Id=a`)).toThrow(/list index .* must be from 1 to 1000/);
    expect(() => parseQuery('Targets.member.0.Id=a')).toThrow(ElbError);
    expect(() => parseQuery('Targets.member.x.Id=a')).toThrow(ElbError);
    expect(() => parseQuery('__proto__.polluted=1')).toThrow(/not valid/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads integers and booleans strictly, naming the parameter', () => {
    expect(int({ Port: '8080' }, 'Port')).toBe(8080);
    expect(() => int({ Port: '80.5' }, 'Port')).toThrow('The parameter Port must be an integer, got "80.5"');
    expect(() => int({ Port: '1e3' }, 'Port')).toThrow(ElbError);
    expect(bool({ HealthCheckEnabled: 'false' }, 'HealthCheckEnabled')).toBe(false);
    expect(() => bool({ HealthCheckEnabled: 'yes' }, 'HealthCheckEnabled')).toThrow('must be true or false');
    expect(() => strList({ Subnets: 'a' }, 'Subnets')).toThrow('must be a list');
  });

  it('writes results with member lists, ISO times and escaped text, and errors in ErrorResponse', () => {
    const xml = resultXml(
      'DescribeTags',
      { TagDescriptions: [{ ResourceArn: 'arn:x', Tags: [{ Key: 'a<b', Value: `"&'` }] }], When: new Date(0), Skip: undefined },
      'req-1',
    );
    expect(xml).toContain('<DescribeTagsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTagsResult>');
    expect(xml).toContain(
      '<TagDescriptions><member><ResourceArn>arn:x</ResourceArn><Tags><member><Key>a&lt;b</Key><Value>&quot;&amp;&apos;</Value></member></Tags></member></TagDescriptions>',
    );
    expect(xml).toContain('<When>1970-01-01T00:00:00.000Z</When>');
    expect(xml).not.toContain('Skip');
    expect(xml).toContain('<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeTagsResponse>');
    expect(errorXml('TargetGroupNotFound', 'no <tg>', 'r2')).toContain(
      '<Error><Type>Sender</Type><Code>TargetGroupNotFound</Code><Message>no &lt;tg&gt;</Message></Error><RequestId>r2</RequestId></ErrorResponse>',
    );
    expect(escapeXml('plain')).toBe('plain');
  });
});
