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
 * request in the egress gateway's log, sent to port 443. Then its second section, mutual TLS
 * origination: my-nginx.mesh-external (a test server requiring a client certificate of the task's
 * CA, external-host.ts) reached through the egress gateway, which presents the client certificate
 * of the `client-credential` Secret a DestinationRule names as `credentialName`.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { until } from '../../support/poll';
import { fromWorkload } from '../support';
import { egressGateway, egressSubset, originateTls, throughEgressGateway } from './cnn-mesh';
import { cnnTask } from './cnn-task';
import { startMutualTlsServer, type MutualTlsServer } from './external-host';
import { clientCredential, NGINX_HOST, nginxServiceEntry, nginxThroughEgressGateway, originateMtls } from './nginx-mtls-mesh';

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

describe('egress-gateway-tls-origination: mutual TLS origination at the egress gateway', () => {
  let nginx: MutualTlsServer | undefined;
  beforeAll(async () => {
    nginx = await startMutualTlsServer('127.0.0.3');
  });
  afterAll(() => nginx?.close());
  const server = () => nginx!;
  const curl = () => fromWorkload(task.mesh.mesh, 'productpage-v1', `http://${NGINX_HOST}`);
  /** The task's steps, the Secret (`client-credential` in `secretNamespace`) first, in one file. */
  const mesh = (secretNamespace?: string, client?: { cert: string; key: string }) =>
    [
      ...(secretNamespace
        ? [
            clientCredential(secretNamespace, {
              cert: client?.cert ?? server().file('client.example.com.crt'),
              key: client?.key ?? server().file('client.example.com.key'),
              ca: server().file('example.com.crt'),
            }),
          ]
        : []),
      nginxServiceEntry(server()),
      nginxThroughEgressGateway(),
      originateMtls({ namespace: 'istio-system', port: 443 }),
    ].join('---\n');
  const egressLines = () => egressLog().filter((l) => l.authority === NGINX_HOST);

  test('the server (nginx with ssl_verify_client on) refuses a TLS client without a certificate', async () => {
    const refused = server().refused();
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({
        host: server().address,
        port: server().port,
        servername: NGINX_HOST,
        ca: readFileSync(server().file('example.com.crt')),
      });
      s.on('secureConnect', () => s.write(`GET / HTTP/1.1\r\nhost: ${NGINX_HOST}\r\n\r\n`));
      s.on('data', (d) => resolve(`answered: ${d}`));
      s.on('error', (err) => resolve(`refused: ${err.message}`));
      s.on('close', () => resolve('refused: closed'));
    });
    expect(outcome).toMatch(/^refused/);
    await until('the server to count the refusal', () => server().refused() > refused, 5000);
    expect(server().hits).toEqual([]);
  });

  test('the Gateway, routes and MUTUAL DestinationRule without the Secret: 503, the connection fails (as Envoy while SDS has no secret), and a finding says so', async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => mesh());
    await until(
      'the finding is logged',
      () => task.mesh.logs.some((l) => /MAST0170 .*Secret "client-credential" not found in mast-system, istio-system/.test(l)),
      10_000,
    );
    const reply = await curl();
    expect(reply.status).toBe(503);
    expect(server().hits).toEqual([]);
    await until('the egress gateway to log the request', () => egressLines().length > 0, 5000);
    expect(egressLines().at(-1)).toEqual(
      expect.objectContaining({
        response_code: 503,
        response_flags: expect.stringContaining('UF'),
        upstream_cluster: `outbound|443||${NGINX_HOST}`,
      }),
    );
  });

  test("client-credential in default, not the egress gateway's namespace: a finding naming both, and still 503", async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => mesh('default'));
    await until(
      'the finding is logged',
      () =>
        task.mesh.logs.some((l) =>
          /MAST0170 .*DestinationRule istio-system\/originate-mtls-for-nginx.*Secret "client-credential" is in namespace default, not in mast-system, istio-system/.test(
            l,
          ),
        ),
      10_000,
    );
    expect((await curl()).status).toBe(503);
    expect(server().hits).toEqual([]);
  });

  test("client-credential in istio-system (the task's): 200 and the welcome page, the egress gateway presenting client.example.com", async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => mesh('istio-system'));
    const reply = await curl();
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>Welcome to nginx!</title>');
    expect(server().hits).toEqual([{ path: '/', serverName: NGINX_HOST, client: { cn: 'client.example.com', serial: '01' } }]);
    // `kubectl logs -l istio=egressgateway | grep my-nginx.mesh-external.svc.cluster.local`
    await until('the egress gateway to log the request', () => egressLines().some((l) => l.response_code === 200), 5000);
    expect(egressLines().at(-1)).toEqual(
      expect.objectContaining({
        method: 'GET',
        path: '/',
        response_code: 200,
        upstream_cluster: `outbound|443||${NGINX_HOST}`,
        upstream_host: `${server().address}:${server().port}`,
      }),
    );
  });

  test('the Secret replaced by another client certificate while running: new connections present it', async () => {
    const next = server().newClient('2');
    await task.mesh.edit('mesh/nginx.yaml', () => mesh('istio-system', next));
    // A connection open before keeps its certificate (as Envoy's): the server closes its connections
    // (as nginx closes idle ones) until a new one comes with the new certificate, which the egress
    // gateway takes up within a second of the Secret's files changing.
    await until(
      'a request to arrive with the new client certificate',
      async () => {
        server().closeConnections();
        return (await curl()).status === 200 && server().hits.at(-1)?.client.serial === '02';
      },
      10_000,
      () => JSON.stringify(server().hits.at(-1)),
    );
  });

  test('cleanup: without the Secret, Gateway, routes and DestinationRules, my-nginx is not reached', async () => {
    await task.mesh.edit('mesh/nginx.yaml', () => '# deleted\n');
    const hits = server().hits.length;
    expect((await curl()).status).not.toBe(200);
    expect(server().hits.length).toBe(hits);
  });
});
