import { APP_PROBERS_ENV, injectSidecar, METADATA_CIDRS, PROXY_UID, ROOT_CONFIGMAP } from '../../constructs';
import { ROOT_CONFIGMAP as RUNTIME_ROOT_CONFIGMAP, ROOT_CONFIGMAP_KEY } from '../../runtime/control/root-namespaces';
import { APP_PROBERS_ENV as RUNTIME_APP_PROBERS_ENV, parseAppProbers } from '../../runtime/proxy/app-probe';

const pod = () => ({ containers: [{ name: 'app', image: 'app:1' }], initContainers: [{ name: 'migrate', image: 'm:1' }] });
const arg = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('injectSidecar', () => {
  const spec = injectSidecar(pod(), { excludeOutboundPorts: [5432], excludeInboundPorts: [9000], excludeOutboundCidrs: ['10.0.0.0/8'] });
  const [capture, proxy, user] = spec.initContainers as any[];

  test('capture first, then the proxy as a native sidecar, then the user init containers', () => {
    expect([capture.name, proxy.name, user.name]).toEqual(['mast-init', 'mast-proxy', 'migrate']);
    expect(proxy.restartPolicy).toBe('Always');
    expect(capture.restartPolicy).toBeUndefined();
    expect(spec.containers).toEqual(pod().containers);
  });

  test('the proxy runs as uid 1337, non-root, read-only, no capabilities', () => {
    expect(proxy.securityContext).toMatchObject({
      runAsUser: PROXY_UID,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(proxy.startupProbe.httpGet.port).toBe(15020);
  });

  test('capture has only NET_ADMIN and NET_RAW, and excludes the proxy uid and the metadata addresses', () => {
    expect(capture.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
    expect(arg(capture.args, '--proxy-uid')).toBe('1337');
    const cidrs = arg(capture.args, '--exclude-outbound-cidrs').split(',');
    expect(cidrs).toEqual(expect.arrayContaining(['169.254.169.254/32', '169.254.170.23/32', '10.0.0.0/8', ...METADATA_CIDRS]));
    expect(arg(capture.args, '--exclude-outbound-ports')).toBe('5432');
    expect(arg(capture.args, '--exclude-inbound-ports').split(',')).toEqual(['15020', '15090', '9000']);
  });

  test("the proxy verifies mastd's push port with the root ConfigMap mastd writes into the namespace", () => {
    expect(arg(proxy.args, '--control-plane')).toBe('mastd.mast-system.svc:15012');
    expect(arg(proxy.args, '--control-plane-ca')).toBe('/var/run/mast/root/root-cert.pem');
    expect(proxy.volumeMounts).toEqual([{ name: 'mast-ca-root', mountPath: '/var/run/mast/root', readOnly: true }]);
    expect(injectSidecar({ ...pod(), volumes: [{ name: 'data', emptyDir: {} }] }).volumes).toEqual([
      { name: 'data', emptyDir: {} },
      { name: 'mast-ca-root', configMap: { name: ROOT_CONFIGMAP } },
    ]);
    // The name and key mastd writes (runtime/control/root-configmaps.ts).
    expect([ROOT_CONFIGMAP, `/var/run/mast/root/${ROOT_CONFIGMAP_KEY}`]).toEqual([
      RUNTIME_ROOT_CONFIGMAP,
      arg(proxy.args, '--control-plane-ca'),
    ]);
  });

  test('is pure: the input pod is not changed', () => {
    const input = pod();
    injectSidecar(input);
    expect(input).toEqual(pod());
  });
});

describe('app probes under injection', () => {
  const app = {
    name: 'web',
    image: 'web:1',
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: {
      httpGet: { path: '/ready', port: 'http', httpHeaders: [{ name: 'X-Probe', value: '1' }] },
      periodSeconds: 3,
      timeoutSeconds: 2,
    },
    livenessProbe: { tcpSocket: { port: 8080 }, failureThreshold: 5 },
    startupProbe: { exec: { command: ['true'] } },
  };
  const inject = (options: Parameters<typeof injectSidecar>[1] = {}) => {
    const spec = injectSidecar({ containers: [app] }, options);
    const proxy = (spec.initContainers as any[])[1];
    const env = proxy.env.find((e: { name: string }) => e.name === APP_PROBERS_ENV);
    return { container: (spec.containers as any[])[0], probers: env ? JSON.parse(env.value) : undefined };
  };

  test('httpGet and tcpSocket probes go to the status port; the originals, named ports resolved, go to the proxy', () => {
    const { container, probers } = inject();
    expect(container.readinessProbe).toEqual({
      httpGet: { path: '/app-health/web/readyz', port: 15020 },
      periodSeconds: 3,
      timeoutSeconds: 2,
    });
    expect(container.livenessProbe).toEqual({ httpGet: { path: '/app-health/web/livez', port: 15020 }, failureThreshold: 5 });
    expect(probers).toEqual({
      '/app-health/web/readyz': {
        httpGet: { path: '/ready', port: 8080, httpHeaders: [{ name: 'X-Probe', value: '1' }] },
        timeoutSeconds: 2,
      },
      '/app-health/web/livez': { tcpSocket: { port: 8080 } },
    });
    // The proxy reads back exactly what injection wrote.
    expect(parseAppProbers(JSON.stringify(probers))).toEqual(
      new Map<string, unknown>([
        ['/app-health/web/livez', { tcpSocket: { port: 8080 }, timeoutSeconds: 1 }],
        [
          '/app-health/web/readyz',
          { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: '1' }] }, timeoutSeconds: 2 },
        ],
      ]),
    );
  });

  test('exec probes, probes to an uncaptured port or another host, and unknown named ports are left alone', () => {
    expect(inject().container.startupProbe).toEqual(app.startupProbe);
    const excluded = inject({ excludeInboundPorts: [8080] });
    expect(excluded.container).toEqual(app);
    expect(excluded.probers).toBeUndefined();
    const other = {
      ...app,
      readinessProbe: { httpGet: { path: '/', port: 'metrics' } },
      livenessProbe: { httpGet: { path: '/', port: 80, host: '10.0.0.1' } },
    };
    const spec = injectSidecar({ containers: [other] });
    expect((spec.containers as any[])[0]).toEqual(other);
  });

  test('grpc probes too, with their service', () => {
    const grpcApp = { name: 'ratings', image: 'r:1', livenessProbe: { grpc: { port: 9090, service: 'ratings' }, periodSeconds: 10 } };
    const spec = injectSidecar({ containers: [grpcApp] });
    expect((spec.containers as any[])[0].livenessProbe).toEqual({
      httpGet: { path: '/app-health/ratings/livez', port: 15020 },
      periodSeconds: 10,
    });
    const env = (spec.initContainers as any[])[1].env.find((e: { name: string }) => e.name === APP_PROBERS_ENV);
    expect(parseAppProbers(env.value).get('/app-health/ratings/livez')).toEqual({
      grpc: { port: 9090, service: 'ratings' },
      timeoutSeconds: 1,
    });
  });

  test('can be turned off', () => {
    const { container, probers } = inject({ rewriteAppProbes: false });
    expect(container).toEqual(app);
    expect(probers).toBeUndefined();
  });

  test('the proxy and the constructs agree on the environment variable', () => {
    expect(APP_PROBERS_ENV).toBe(RUNTIME_APP_PROBERS_ENV);
  });
});
