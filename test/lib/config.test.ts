import { ConfigError, environmentsFromContext } from '../../lib/config';

const base = { zoneName: 'example.com', hostedZoneId: 'Z0TEST' };
const one = (env: unknown) => environmentsFromContext({ staging: env });
const fails = (env: unknown, message: RegExp) => {
  expect(() => one(env)).toThrow(ConfigError);
  expect(() => one(env)).toThrow(message);
};

describe('mast:environments (cdk.json or -c)', () => {
  test('an object keyed by environment name, or the same as a JSON string', () => {
    expect(environmentsFromContext({ staging: base })).toEqual([{ envName: 'staging', ...base }]);
    expect(environmentsFromContext(JSON.stringify({ prod: { ...base, maxAzs: 3 } }))).toEqual([{ envName: 'prod', ...base, maxAzs: 3 }]);
    expect(environmentsFromContext(undefined)).toEqual([]);
  });

  test('a string that is not JSON, or not an object, is an error', () => {
    expect(() => environmentsFromContext('{staging:')).toThrow(/given as a string must be JSON/);
    expect(() => environmentsFromContext([base])).toThrow(/must be an object keyed by environment name/);
  });

  test('a typo is an error naming the key and the known ones', () => {
    fails({ ...base, maxAZs: 3 }, /mast:environments\.staging\.maxAZs is not a setting \(known: .*maxAzs/);
    fails({ ...base, capacity: { type: 'nodegroup', instanceType: ['m6i.large'] } }, /staging\.capacity\.instanceType is not a setting/);
  });

  test('required settings, types and variants', () => {
    fails({ zoneName: 'example.com' }, /staging\.hostedZoneId is required/);
    fails({ ...base, maxAzs: '3' }, /staging\.maxAzs must be a number, got "3"/);
    fails({ ...base, admins: 'arn:x' }, /staging\.admins must be a list of strings/);
    fails({ ...base, capacity: { type: 'fargate' } }, /staging\.capacity\.type must be one of nodegroup, automode, got "fargate"/);
    fails({ ...base, tls: { mode: 'gateway' } }, /staging\.tls\.email is required/);
    fails({ ...base, endpointAccess: { mode: 'public-and-private' } }, /staging\.endpointAccess\.cidrs is required/);
    fails({ ...base, natGateways: -1 }, /natGateways must be a whole number, got -1/);
  });

  test('endpoint access: public is open to the world; restricting to CIDRs is public-and-private, with IPv4 blocks', () => {
    expect(one({ ...base, endpointAccess: { mode: 'public' } })[0].endpointAccess).toEqual({ mode: 'public' });
    const cidrs = ['203.0.113.0/24', '0.0.0.0/0', '198.51.100.7/32'];
    expect(one({ ...base, endpointAccess: { mode: 'public-and-private', cidrs } })[0].endpointAccess).toEqual({
      mode: 'public-and-private',
      cidrs,
    });
    fails(
      { ...base, endpointAccess: { mode: 'public', cidrs } },
      /endpointAccess\.cidrs is not a setting \(an endpoint restricted to CIDRs is mode "public-and-private"\)/,
    );
    for (const cidr of ['10.0.0.300/8', '10.0.0.0/33', '10.0.0.0', 'fd00::/8', 'example.com/24'])
      fails(
        { ...base, endpointAccess: { mode: 'public-and-private', cidrs: ['203.0.113.0/24', cidr] } },
        new RegExp(`endpointAccess\\.cidrs\\[1\\] must be an IPv4 CIDR block .*got "${cidr.replace(/[./]/g, '\\$&')}"`),
      );
    fails(
      { ...base, endpointAccess: { mode: 'public-and-private', cidrs: [] } },
      /endpointAccess\.cidrs must name at least one CIDR block/,
    );
  });

  test('an account is 12 digits', () => {
    fails({ ...base, account: '12345' }, /staging\.account must be an AWS account id of 12 digits, got "12345"/);
    expect(one({ ...base, account: '123456789012' })[0].account).toBe('123456789012');
  });

  test('errors carry their code first, as the other MAST errors', () => {
    fails({ ...base, maxAZs: 3 }, /^MAST_CONFIG_INVALID: mast:environments\.staging\.maxAZs/);
  });

  test('a Kubernetes version the cluster construct and its kubectl cannot run is an error', () => {
    fails({ ...base, kubernetesVersion: '1.99' }, /kubernetesVersion "1\.99" is not supported \(supported: 1\.34, 1\.35, 1\.36\)/);
    expect(one({ ...base, kubernetesVersion: '1.34' })[0].kubernetesVersion).toBe('1.34');
  });

  test('the environment name becomes part of stack names', () => {
    expect(() => environmentsFromContext({ 'Prod Env': base })).toThrow(/environment name "Prod Env"/);
  });

  test("the project's own cdk.json environments are valid", () => {
    const cdk = require('../../cdk.json');
    expect(environmentsFromContext(cdk.context['mast:environments']).map((e) => e.envName)).toEqual(['staging', 'prod']);
  });
});
