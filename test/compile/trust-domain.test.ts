/**
 * Trust domain migration in AuthorizationPolicy (trust-domain.ts, authz.ts): with the mesh moved to
 * new-td and old-td as its alias, a principal of either, or of cluster.local, stands for that
 * identity in both; others stay as written (the behaviour of Istio's trust domain bundle).
 */
import { loadYaml } from '../../api';
import { buildIndex, makeSnapshot } from '../../runtime/compile';
import { authzFor } from '../../runtime/compile/authz';
import { expandPrincipals } from '../../runtime/compile/trust-domain';
import type { ProxyIdentity } from '../../runtime/contract/push-protocol';
import { meshConfigDoc, meshYaml } from '../support/mesh-yaml';

const BUNDLE = ['new-td', 'old-td'];

test.each([
  ['old-td/ns/a/sa/b', ['new-td/ns/a/sa/b', 'old-td/ns/a/sa/b']],
  ['new-td/ns/a/sa/b', ['new-td/ns/a/sa/b', 'old-td/ns/a/sa/b']],
  ['cluster.local/ns/a/sa/b', ['new-td/ns/a/sa/b', 'old-td/ns/a/sa/b']],
  ['other-td/ns/a/sa/b', ['other-td/ns/a/sa/b']],
  ['*', ['*']],
  ['*/ns/a/sa/b', ['*/ns/a/sa/b']],
  ['ns/a/sa/b', ['ns/a/sa/b']],
  ['*-td/ns/a/sa/b', ['*-td/ns/a/sa/b']],
  ['old*/ns/a/sa/b', ['new-td/ns/a/sa/b', 'old-td/ns/a/sa/b']],
  ['prefix-*', ['prefix-*']],
])('with trust domain new-td and alias old-td, %s stands for %j', (principal, want) => {
  expect(expandPrincipals([principal], BUNDLE)).toEqual(want);
});

test('the default mesh (cluster.local, no alias) keeps every principal as written', () => {
  const written = ['cluster.local/ns/a/sa/b', 'old-td/ns/a/sa/b', '*'];
  expect(expandPrincipals(written, ['cluster.local'])).toEqual(written);
});

test('a trust domain of its own without alias: cluster.local in a policy means it', () => {
  expect(expandPrincipals(['cluster.local/ns/a/sa/b', 'old-td/ns/a/sa/b'], ['new-td'])).toEqual(['new-td/ns/a/sa/b', 'old-td/ns/a/sa/b']);
});

describe('compiled into the policies of a proxy', () => {
  const HTTPBIN: ProxyIdentity = { mode: 'sidecar', namespace: 'default', labels: { app: 'httpbin' }, inbound: { port: 15006 } };
  const yaml = (mesh: string) =>
    meshYaml(
      meshConfigDoc(mesh),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: httpbin, namespace: default }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - from: [{ source: { principals: [old-td/ns/sleep-allow/sa/sleep], notPrincipals: [cluster.local/ns/x/sa/y] } }]
    when: [{ key: source.principal, values: [old-td/ns/sleep-allow/sa/sleep] }, { key: 'request.headers[x]', values: [old-td/ns/a/sa/b] }]`,
    );
  const rule = (mesh: string, trustDomain?: string) =>
    authzFor(buildIndex(makeSnapshot(loadYaml(yaml(mesh)).objects, 'v1'), { trustDomain }), HTTPBIN)!.allow![0];

  test('aliases in the mesh config: principals, notPrincipals and source.principal conditions in both trust domains; other conditions as written', () => {
    expect(rule('trustDomain: new-td\ntrustDomainAliases: [old-td]')).toMatchObject({
      from: [
        {
          principals: ['new-td/ns/sleep-allow/sa/sleep', 'old-td/ns/sleep-allow/sa/sleep'],
          notPrincipals: ['new-td/ns/x/sa/y', 'old-td/ns/x/sa/y'],
        },
      ],
      when: [
        { key: 'source.principal', values: ['new-td/ns/sleep-allow/sa/sleep', 'old-td/ns/sleep-allow/sa/sleep'] },
        { key: 'request.headers[x]', values: ['old-td/ns/a/sa/b'] },
      ],
    });
  });

  test("mastd's own trust domain leads the bundle, whatever the mesh config's trustDomain says", () => {
    expect(rule('trustDomain: new-td\ntrustDomainAliases: [old-td]', 'signing-td').from![0].principals).toEqual([
      'signing-td/ns/sleep-allow/sa/sleep',
      'old-td/ns/sleep-allow/sa/sleep',
    ]);
  });

  test('no alias: a principal of the old trust domain is left as written (it matches no workload of new-td)', () => {
    expect(rule('trustDomain: new-td').from![0].principals).toEqual(['old-td/ns/sleep-allow/sa/sleep']);
  });
});
