import { ListResourceRecordSetsCommand, NoSuchHostedZone, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { join } from 'node:path';
import { checkDns, normalizeName } from '../../cli/dns/check';
import { runDns } from '../../cli/dns';

const NLB = 'mast-Nlb-123.elb.us-east-1.amazonaws.com';
const route53 = mockClient(Route53Client);
const MESH = join(__dirname, '..', '..', 'examples', 'bookinfo', 'mesh');

beforeEach(() => route53.reset());

describe('checkDns', () => {
  test('ok, missing and drifted hosts; paginated listing; aliases with the dualstack prefix', async () => {
    route53
      .on(ListResourceRecordSetsCommand, { HostedZoneId: 'Z1' })
      .resolvesOnce({
        ResourceRecordSets: [{ Name: 'alpha.example.com.', Type: 'CNAME', ResourceRecords: [{ Value: NLB }] }],
        IsTruncated: true,
        NextRecordName: 'b',
        NextRecordType: 'A',
      })
      .resolvesOnce({
        ResourceRecordSets: [
          {
            Name: 'example.com.',
            Type: 'A',
            AliasTarget: { DNSName: `dualstack.${NLB.toLowerCase()}.`, HostedZoneId: 'Z2', EvaluateTargetHealth: true },
          },
          { Name: 'beta.example.com.', Type: 'CNAME', ResourceRecords: [{ Value: 'old-nlb.elb.amazonaws.com' }] },
          { Name: '\\052.apps.example.com.', Type: 'CNAME', ResourceRecords: [{ Value: `${NLB}.` }] },
        ],
      });
    const results = await checkDns({
      client: new Route53Client({}),
      hostedZoneId: 'Z1',
      hosts: ['alpha.example.com', 'example.com', 'beta.example.com', 'gamma.example.com', '*.apps.example.com'],
      nlbDnsName: NLB,
    });
    expect(results).toEqual([
      { host: 'alpha.example.com', status: 'ok', record: 'CNAME' },
      { host: 'example.com', status: 'ok', record: 'A' },
      { host: 'beta.example.com', status: 'wrong-target', record: 'CNAME', target: 'old-nlb.elb.amazonaws.com' },
      { host: 'gamma.example.com', status: 'missing' },
      { host: '*.apps.example.com', status: 'ok', record: 'CNAME' },
    ]);
    expect(route53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(2);
  });

  test('names are compared as Route 53 writes them', () => {
    expect(normalizeName('\\052.Example.COM.')).toBe('*.example.com');
    expect(normalizeName('dualstack.nlb.amazonaws.com.')).toBe('nlb.amazonaws.com');
  });
});

describe('mast dns check', () => {
  const quiet = () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    return { log, error, restore: () => (log.mockRestore(), error.mockRestore()) };
  };

  test('exit 0 when the example host points at the NLB, 1 on drift', async () => {
    const out = quiet();
    route53
      .on(ListResourceRecordSetsCommand)
      .resolves({ ResourceRecordSets: [{ Name: 'alpha.example.com.', Type: 'CNAME', ResourceRecords: [{ Value: NLB }] }] });
    expect(await runDns(['check', '-f', MESH, '--zone-id', 'Z1', '--nlb', NLB], new Route53Client({}))).toBe(0);
    expect(await runDns(['check', '-f', MESH, '--zone-id', 'Z1', '--nlb', 'other.elb.amazonaws.com'], new Route53Client({}))).toBe(1);
    expect(out.log.mock.calls.flat().join('\n')).toMatch(/drift +alpha.example.com: CNAME points at mast-nlb-123/);
    out.restore();
  });

  test('exit 2 with a clear message: missing zone, missing credentials, bad usage', async () => {
    const out = quiet();
    route53
      .on(ListResourceRecordSetsCommand)
      .rejects(new NoSuchHostedZone({ message: 'No hosted zone found with ID: Z404', $metadata: {} }));
    expect(await runDns(['check', '-f', MESH, '--zone-id', 'Z404', '--nlb', NLB], new Route53Client({}))).toBe(2);
    const noCreds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    route53.on(ListResourceRecordSetsCommand).rejects(noCreds);
    expect(await runDns(['check', '-f', MESH, '--zone-id', 'Z1', '--nlb', NLB], new Route53Client({}))).toBe(2);
    expect(await runDns(['check', '-f', MESH])).toBe(2);
    const errors = out.error.mock.calls.flat().join('\n');
    expect(errors).toMatch(/hosted zone not found: No hosted zone found with ID: Z404/);
    expect(errors).toMatch(/no AWS credentials found/);
    expect(errors).toMatch(/--zone-id and --nlb are required/);
    out.restore();
  });
});
