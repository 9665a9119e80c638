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
    fails({ ...base, endpointAccess: { mode: 'public' } }, /staging\.endpointAccess\.cidrs is required/);
    fails({ ...base, natGateways: -1 }, /natGateways must be a whole number, got -1/);
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
