import { injectSidecar, METADATA_CIDRS, PROXY_UID } from '../../constructs';

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
    expect(proxy.securityContext).toMatchObject({ runAsUser: PROXY_UID, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
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

  test('is pure: the input pod is not changed', () => {
    const input = pod();
    injectSidecar(input);
    expect(input).toEqual(pod());
  });
});
