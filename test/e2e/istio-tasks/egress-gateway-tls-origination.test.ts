/**
 * Istio's task traffic-management/egress/egress-gateway-tls-origination ("Egress Gateways with TLS
 * Origination"), its first section, on `mast local`'s bookinfo: sleep (productpage's sidecar here,
 * as in egress-gateway.test.ts) sends plain HTTP to edition.cnn.com; its sidecar sends it to the
 * egress gateway over ISTIO_MUTUAL (the DestinationRule's subset, with the SNI the Gateway's
 * ISTIO_MUTUAL server is chosen by), and the egress gateway originates TLS to edition.cnn.com:443
 * (the DestinationRule `tls.mode: SIMPLE` on the external host). edition.cnn.com is a server of the
 * test on 127.0.0.3 whose certificate a CA of the test signed: the DestinationRule names that CA
 * (`caCertificates`), where the task's host has a publicly trusted certificate. The documented
 * outcome: 301 before, 200 after (no redirect: the request reached the host over TLS), and the
 * request in the egress gateway's log, sent to port 443. Not here: the mutual TLS origination
 * section (its client certificate from a `credentialName` Secret at the egress gateway).
 */
import * as net from 'node:net';
import { until } from '../../support/poll';
import { egressGateway, egressSubset, originateTls, throughEgressGateway } from './cnn-mesh';
import { cnnTask } from './cnn-task';

const task = cnnTask('127.0.0.3');
const egressLog = () => task.log('egress gateway');

describe('egress-gateway-tls-origination: TLS origination at the egress gateway', () => {
  test('a ServiceEntry for edition.cnn.com: plain HTTP reaches it, 301 Moved Permanently to https', async () => {
    await task.mesh.edit('mesh/cnn.yaml', task.serviceEntry);
    expect((await task.curl()).status).toBe(301);
  });

  test('the ISTIO_MUTUAL egress Gateway and its DestinationRule, the VirtualService and the SIMPLE origination: 200, edition.cnn.com asked over TLS', async () => {
    await task.mesh.edit('mesh/egress.yaml', () =>
      [egressGateway('ISTIO_MUTUAL'), egressSubset(true), throughEgressGateway(443), originateTls(task.cnn.ca)].join('---\n'),
    );
    const before = task.cnn.hits.length;
    const reply = await task.curl();
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>edition.cnn.com</title>');
    // The egress gateway opened TLS to it, naming edition.cnn.com (its certificate checked against the CA).
    expect(task.cnn.hits.slice(before)).toEqual([
      { method: 'GET', path: '/politics', host: 'edition.cnn.com', tls: true, serverName: 'edition.cnn.com' },
    ]);
    await until('the egress gateway to log the request', () => egressLog().length > 0, 5000);
    expect(egressLog()).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/politics',
        response_code: 200,
        authority: 'edition.cnn.com',
        upstream_cluster: 'outbound|443||edition.cnn.com',
        upstream_host: `${task.cnn.address}:${task.cnn.httpsPort}`,
      }),
    ]);
  });

  test("the egress gateway's port 80 takes mesh mTLS only: a plain-text client is closed unanswered", async () => {
    const port = task.mesh.mesh.egress.ports[80];
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /politics HTTP/1.1\r\nhost: edition.cnn.com\r\n\r\n'));
      s.setEncoding('utf8');
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
      s.setTimeout(5000, () => s.destroy());
    });
    expect(answer).toBe('');
  });

  test('cleanup: without the egress Gateway, routes and DestinationRules, edition.cnn.com answers 301 again, directly', async () => {
    await task.mesh.edit('mesh/egress.yaml', () => '# deleted\n');
    const logged = egressLog().length;
    expect((await task.curl()).status).toBe(301);
    expect(egressLog().length).toBe(logged);
  });
});
