/**
 * Istio's task traffic-management/egress/egress-gateway, its HTTPS section, with captured traffic
 * (`mast local --intercept`): sleep is an app in productpage's network namespace that speaks TLS
 * itself (`curl https://edition.cnn.com/politics`: the name resolves, as a ClusterIP would, to an
 * address only iptables sees). edition.cnn.com is a server of the test on this machine's end of
 * that namespace's link (external-host.ts), its CA trusted by the app. The documented outcomes: 200
 * directly with the ServiceEntry (TLS on 443); 200 again once the mesh's `tls` route sends the
 * connection by its server name to the egress gateway, which passes it through (PASSTHROUGH) to
 * edition.cnn.com, the egress gateway counting the connection to it. Needs root, `ip netns` and
 * iptables; skipped with the reason printed otherwise.
 */
import { httpsThroughEgressGateway } from './cnn-mesh';
import { captureUnavailable, capturedSleep } from './captured-sleep';

const reason = captureUnavailable('egress-gateway');

(reason ? describe.skip : describe)('egress-gateway, HTTPS traffic through the egress gateway (captured)', () => {
  const sleep = capturedSleep();

  /** `curl -s -o /dev/null -w '%{http_code}' https://edition.cnn.com/politics` from sleep: `<status>` or `error <code>`. */
  const curlHttps = () =>
    sleep.run(
      `require('https').get('https://edition.cnn.com/politics',r=>{r.resume();r.on('end',()=>console.log(String(r.statusCode)))}).on('error',e=>console.log('error '+(e.code||e.message)))`,
    );

  /** The egress gateway's TCP connections to edition.cnn.com (`istio_tcp_connections_opened_total`). */
  async function egressConnections(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${sleep.mesh.mesh.egress.adminPort}/stats/prometheus`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('istio_tcp_connections_opened_total{') && l.includes('destination_service="edition.cnn.com"'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  }

  /** The YAML documents of `yaml` that `keep` keeps. */
  const documents = (yaml: string, keep: (doc: string) => boolean) => yaml.split('---\n').filter(keep).join('---\n');
  const SERVICE_ENTRY = () => documents(httpsThroughEgressGateway(sleep.cnn), (d) => d.includes('kind: ServiceEntry'));

  test('a ServiceEntry for edition.cnn.com (TLS on 443): sleep reaches it directly, 200', async () => {
    await sleep.mesh.edit('mesh/cnn.yaml', SERVICE_ENTRY);
    const before = sleep.cnn.hits.length;
    expect(await curlHttps()).toBe('200');
    expect(sleep.cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
  });

  test('the PASSTHROUGH egress Gateway, its subset and the tls routes by SNI: 200, the connection went through the egress gateway', async () => {
    await sleep.mesh.edit('mesh/cnn.yaml', () => httpsThroughEgressGateway(sleep.cnn));
    expect(sleep.mesh.mesh.egress.ports[443]).toEqual(expect.any(Number));
    const before = sleep.cnn.hits.length;
    expect(await curlHttps()).toBe('200');
    expect(sleep.cnn.hits.slice(before)).toHaveLength(1);
    expect(await egressConnections()).toBe(1);
  });

  test('without the egress Gateway the mesh route still leads to the egress gateway, which no longer serves 443: the connection fails', async () => {
    await sleep.mesh.edit('mesh/cnn.yaml', () => documents(httpsThroughEgressGateway(sleep.cnn), (d) => !d.includes('kind: Gateway')));
    const before = sleep.cnn.hits.length;
    expect(await curlHttps()).toMatch(/^error /);
    expect(sleep.cnn.hits.length).toBe(before);
  });

  test('cleanup: the ServiceEntry alone, sleep reaches it directly again', async () => {
    await sleep.mesh.edit('mesh/cnn.yaml', SERVICE_ENTRY);
    expect(await curlHttps()).toBe('200');
    expect(await egressConnections()).toBe(1);
  });
});
