/**
 * Traffic capture for a sidecar, as the init container installs it: iptables (and
 * ip6tables) NAT rules that REDIRECT inbound TCP to the proxy's inbound port and outbound
 * TCP to its outbound port, except traffic of the proxy's own uid (or it would loop), the
 * excluded ports and CIDRs, and the instance-metadata / Pod Identity addresses.
 * Pure: it returns `iptables-restore` input; `mast-proxy capture` applies it.
 */
import { PORTS } from '../../api/well-known';

export interface CaptureOptions {
  readonly proxyUid: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly excludeInboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
  readonly excludeOutboundCidrs: readonly string[];
}

export class CaptureOptionError extends Error {
  readonly code = 'MAST_CAPTURE_OPTION';
}

const isV6 = (cidr: string) => cidr.includes(':');

function checkPort(name: string, p: number): void {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new CaptureOptionError(`${name}: ${p} is not a port`);
}

/** `iptables-restore` input for one address family. */
export function captureRules(o: CaptureOptions, family: 4 | 6): string {
  checkPort('outbound port', o.outboundPort);
  checkPort('inbound port', o.inboundPort);
  o.excludeInboundPorts.forEach((p) => checkPort('excluded inbound port', p));
  o.excludeOutboundPorts.forEach((p) => checkPort('excluded outbound port', p));
  if (!Number.isInteger(o.proxyUid) || o.proxyUid < 0) throw new CaptureOptionError(`proxy uid: ${o.proxyUid} is not a uid`);
  for (const c of o.excludeOutboundCidrs)
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(c)) throw new CaptureOptionError(`excluded CIDR: "${c}" is not a CIDR`);
  const loopback = family === 4 ? '127.0.0.1/32' : '::1/128';
  const cidrs = o.excludeOutboundCidrs.filter((c) => isV6(c) === (family === 6));
  const lines = [
    '*nat',
    ':MAST_INBOUND - [0:0]',
    ':MAST_IN_REDIRECT - [0:0]',
    ':MAST_OUTPUT - [0:0]',
    ':MAST_REDIRECT - [0:0]',
    `-A MAST_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${o.inboundPort}`,
    `-A MAST_REDIRECT -p tcp -j REDIRECT --to-ports ${o.outboundPort}`,
    '-A PREROUTING -p tcp -j MAST_INBOUND',
    // The proxy's own ports must reach it directly.
    ...[o.inboundPort, o.outboundPort, ...o.excludeInboundPorts].map((p) => `-A MAST_INBOUND -p tcp --dport ${p} -j RETURN`),
    '-A MAST_INBOUND -p tcp -j MAST_IN_REDIRECT',
    '-A OUTPUT -p tcp -j MAST_OUTPUT',
    // The proxy's own connections (uid or gid) leave untouched: this is what stops the loop.
    `-A MAST_OUTPUT -m owner --uid-owner ${o.proxyUid} -j RETURN`,
    `-A MAST_OUTPUT -m owner --gid-owner ${o.proxyUid} -j RETURN`,
    `-A MAST_OUTPUT -d ${loopback} -j RETURN`,
    ...cidrs.map((c) => `-A MAST_OUTPUT -d ${c} -j RETURN`),
    ...o.excludeOutboundPorts.map((p) => `-A MAST_OUTPUT -p tcp --dport ${p} -j RETURN`),
    '-A MAST_OUTPUT -j MAST_REDIRECT',
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}

const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Options from the flags the injected init container passes (see constructs/sidecar.ts). */
export function captureOptionsFromFlags(flags: Record<string, string | undefined>): CaptureOptions {
  const num = (name: string, fallback: number) => (flags[name] === undefined ? fallback : Number(flags[name]));
  return {
    proxyUid: num('proxy-uid', 1337),
    outboundPort: num('outbound-port', PORTS.sidecarOutbound),
    inboundPort: num('inbound-port', PORTS.sidecarInbound),
    excludeInboundPorts: list(flags['exclude-inbound-ports']).map(Number),
    excludeOutboundPorts: list(flags['exclude-outbound-ports']).map(Number),
    excludeOutboundCidrs: list(flags['exclude-outbound-cidrs']),
  };
}
