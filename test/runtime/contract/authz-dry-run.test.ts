/**
 * AuthorizationPolicies in dry run (`istio.io/dry-run: "true"`): compiled apart from the enforced
 * ones (runtime/compile/authz.ts), evaluated as Envoy's shadow rules (runtime/contract/authz-dry-run.ts),
 * never enforced; and the annotation's findings (api/dry-run.ts).
 */
import { loadYaml, validate } from '../../../api';
import { authzFor } from '../../../runtime/compile/authz';
import { buildIndex, makeSnapshot } from '../../../runtime/compile';
import { authorize, authorizeConnection, type AuthzRequest } from '../../../runtime/contract/authz';
import { dryRun, istioPolicyId } from '../../../runtime/contract/authz-dry-run';
import type { ProxyIdentity } from '../../../runtime/contract/push-protocol';

const HTTPBIN: ProxyIdentity = { mode: 'sidecar', namespace: 'foo', labels: { app: 'httpbin' }, inbound: { port: 15006, appPort: 80 } };

const policy = (name: string, action: string, paths: string, dryRunValue?: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: foo
${dryRunValue === undefined ? '' : `  annotations: { "istio.io/dry-run": "${dryRunValue}" }\n`}spec:
  selector: { matchLabels: { app: httpbin } }
  action: ${action}
  rules: [{ to: [{ operation: { paths: [${paths}] } }] }]
---
`;

const authzOf = (yaml: string) => authzFor(buildIndex(makeSnapshot(loadYaml(yaml).objects, 'v1')), HTTPBIN);

const get = (path: string): AuthzRequest => ({
  method: 'GET',
  path,
  host: 'httpbin.foo:8000',
  port: 80,
  sourceIp: '127.0.0.1',
  remoteIp: '127.0.0.1',
  header: () => undefined,
});

test("Istio's name of a rule: ns[foo]-policy[deny-path-headers]-rule[0]", () => {
  expect(istioPolicyId('foo/deny-path-headers[0]')).toBe('ns[foo]-policy[deny-path-headers]-rule[0]');
  expect(istioPolicyId('istio-system/a[b][12]')).toBe('ns[istio-system]-policy[a[b]]-rule[12]');
  expect(istioPolicyId('no ALLOW rule matched')).toBe('no ALLOW rule matched');
});

describe('the task’s deny-path-headers in dry run', () => {
  const cfg = authzOf(policy('deny-path-headers', 'DENY', '"/headers"', 'true'))!;

  test('compiled apart: nothing enforced, the rule under dryRun', () => {
    expect(cfg).toEqual({ deny: [], dryRun: { deny: [{ name: 'foo/deny-path-headers[0]', to: [{ paths: ['/headers'] }] }] } });
  });

  test('/headers is allowed, and reported "denied" by the dry-run DENY engine with the rule that matched', () => {
    expect(authorize(cfg, get('/headers'))).toEqual({ allowed: true });
    expect(dryRun(cfg, get('/headers'), 'http')).toEqual([
      { action: 'deny', result: 'denied', policy: 'ns[foo]-policy[deny-path-headers]-rule[0]' },
    ]);
  });

  test('another path: "allowed", no policy', () => {
    expect(dryRun(cfg, get('/ip'), 'http')).toEqual([{ action: 'deny', result: 'allowed' }]);
  });

  test('"false" (or no annotation) enforces it again', () => {
    for (const yaml of [policy('deny-path-headers', 'DENY', '"/headers"', 'false'), policy('deny-path-headers', 'DENY', '"/headers"')]) {
      const enforced = authzOf(yaml)!;
      expect(enforced.dryRun).toBeUndefined();
      expect(authorize(enforced, get('/headers'))).toEqual({ allowed: false, policy: 'foo/deny-path-headers[0]' });
    }
  });
});

describe('ALLOW and DENY dry runs are two engines, apart from the enforced policies (Istio’s dry-run-mix)', () => {
  const cfg = authzOf(
    policy('httpbin-1', 'ALLOW', '"/allow"', 'true') +
      policy('httpbin-2', 'ALLOW', '"/another"', 'false') +
      policy('httpbin-3', 'DENY', '"/deny"', 'True'),
  )!;

  test('the enforced ALLOW admits /another only; the dry-run ones change nothing', () => {
    expect(authorize(cfg, get('/another'))).toEqual({ allowed: true });
    expect(authorize(cfg, get('/allow'))).toEqual({ allowed: false, policy: 'no ALLOW rule matched' });
    expect(authorize(cfg, get('/deny'))).toEqual({ allowed: false, policy: 'no ALLOW rule matched' });
  });

  test('each engine reports its own outcome: DENY first, then ALLOW', () => {
    expect(dryRun(cfg, get('/allow'), 'http')).toEqual([
      { action: 'deny', result: 'allowed' },
      { action: 'allow', result: 'allowed', policy: 'ns[foo]-policy[httpbin-1]-rule[0]' },
    ]);
    expect(dryRun(cfg, get('/deny'), 'http')).toEqual([
      { action: 'deny', result: 'denied', policy: 'ns[foo]-policy[httpbin-3]-rule[0]' },
      { action: 'allow', result: 'denied' },
    ]);
  });
});

test('no dry-run policy: no outcome to report', () => {
  expect(dryRun(authzOf(policy('p', 'DENY', '"/x"')), get('/x'), 'http')).toBeUndefined();
  expect(dryRun(undefined, get('/x'), 'http')).toBeUndefined();
});

test('on TCP, fail closed as enforced rules do: a dry-run DENY with an HTTP field reports "denied"; a dry-run ALLOW with one matches nothing', () => {
  const cfg = authzOf(policy('deny-get', 'DENY', '"/x"', 'true') + policy('allow-get', 'ALLOW', '"/x"', 'true'))!;
  const connection = { port: 9000, sourceIp: '127.0.0.1', remoteIp: '127.0.0.1' };
  expect(authorizeConnection(cfg, connection)).toEqual({ allowed: true });
  expect(dryRun(cfg, connection, 'tcp')).toEqual([
    { action: 'deny', result: 'denied', policy: 'ns[foo]-policy[deny-get]-rule[0]' },
    { action: 'allow', result: 'denied' },
  ]);
});

describe('the annotation’s findings (MAST0137): the policy is enforced as written', () => {
  const findings = (yaml: string) => validate(loadYaml(yaml).objects).filter((f) => f.code === 'MAST0137');

  test('a value that is not a boolean', () => {
    const [f] = findings(policy('p', 'DENY', '"/x"', 'yes'));
    expect([f.severity, f.path, f.message]).toEqual([
      'Warning',
      'metadata.annotations["istio.io/dry-run"]',
      '"yes" is not true or false: the policy is enforced, not dry-run',
    ]);
    expect(authzOf(policy('p', 'DENY', '"/x"', 'yes'))!.dryRun).toBeUndefined();
  });

  test('on a CUSTOM or AUDIT policy', () => {
    expect(findings(policy('p', 'AUDIT', '"/x"', 'true'))[0].message).toBe(
      'dry run applies to ALLOW and DENY policies only (as in Istio): this AUDIT policy is applied as without it',
    );
  });

  test('Go’s booleans are quiet: true, false, 1, 0, T, F', () => {
    for (const v of ['true', 'false', '1', '0', 'T', 'F', 'TRUE', 'False']) expect(findings(policy('p', 'DENY', '"/x"', v))).toEqual([]);
  });
});
