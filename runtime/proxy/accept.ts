/**
 * What a new connection is, before any HTTP parsing: a gateway's TLS port (a server picked by the
 * ClientHello's name: terminated, or passed through), a sidecar's inbound (a Sidecar ingress
 * listener's own TLS; else mTLS or plaintext told apart by the first byte; HTTP or plain TCP by the
 * first bytes), a port with TCP services or passthrough (by original destination), or HTTP.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { chainFor } from './server-names';
import type { PassthroughChain, TerminatedChain } from './tls-chains';
import type { ListenerConfig } from '../contract/proxy-config';
import { peerIdentity } from '../contract/spiffe';
import { readSni } from './http/sni';
import { DownstreamConn, type ConnContext } from './downstream';
import { serveTls } from './peer-tls';
import { acceptedWithOnRead, secureWithOnRead } from './read-buffer';
import { containPeerInput } from './contain';
import { originalDestination } from './original-dst';
import type { ListenerRuntime } from './listeners';
import { blackHoleTcp, looksLikeHttp, noFilterChainTcp, passthroughTcp, proxyTcp, type TcpContext } from './tcp';
import { admitConnection, authzPort, gateConnection, readProxyHeader } from './connection-authz';
import { http2Front, startsWithPreface } from './h2/server';
import type { H2Connection } from './h2/stream-request';

/** Offered by ALPN on TLS the proxy terminates (gateway servers, a sidecar's inbound mTLS): HTTP/2 first, as Envoy offers. */
const ALPN = ['h2', 'http/1.1'];

/** A TLS connection that negotiated `h2`, as the HTTP/2 server's streams see it. */
function tlsH2Connection(
  l: ListenerRuntime,
  secure: tls.TLSSocket,
  raw: net.Socket,
  peer?: H2Connection['peer'],
  source?: string,
): H2Connection {
  const dst = l.captured ? originalDestination(raw) : undefined;
  const sentTo = dst && dst.port !== l.port ? dst : undefined;
  const peerAddress = raw.remoteAddress ?? '';
  return {
    listener: l,
    scheme: 'https',
    socket: secure,
    remoteAddress: source || peerAddress,
    remotePort: raw.remotePort ?? 0,
    peerAddress,
    peer,
    originalPort: sentTo?.port,
    originalAddress: sentTo?.address,
  };
}

/** What accepting a connection needs of the proxy: what its HTTP requests need, TCP proxying, and the workload certificate (mTLS). */
export type AcceptContext = ConnContext & TcpContext & { readonly workloadTls?: tls.SecureContext };

export function acceptConnection(proxy: AcceptContext, socket: net.Socket, l: ListenerRuntime): void {
  if (l.chains) return acceptByServerName(proxy, socket, l);
  if (l.inbound) return acceptInbound(proxy, socket, l);
  if (l.hasTcp || l.passthrough || l.blackHole) return acceptTcp(proxy, socket, l);
  serveHttp(proxy, socket, l);
}

/**
 * Plain HTTP (no TLS): the connection reads through the shared read buffer; `first`, bytes already
 * read from it. A new connection on a listener behind an NLB starts with the PROXY protocol header.
 */
function serveHttp(proxy: AcceptContext, accepted: net.Socket, l: ListenerRuntime, first?: Buffer, proxySource?: string): void {
  if (!first && proxySource === undefined && expectsProxyHeader(l)) {
    return readProxyHeader(proxy, accepted, (source, rest) => serveHttp(proxy, accepted, l, rest, source ?? ''));
  }
  let conn: DownstreamConn | undefined;
  const socket = acceptedWithOnRead(accepted, (chunk) => conn?.received(chunk));
  conn = new DownstreamConn(socket, l, proxy, undefined, proxySource);
  if (first) conn.received(first);
}

const expectsProxyHeader = (l: ListenerRuntime) => l.configs.some((c) => c.proxyProtocol);

/** The first bytes of a connection, within the header timeout (a silent client is closed, not kept). */
function firstChunk(proxy: AcceptContext, socket: net.Socket, then: (first: Buffer) => void): void {
  socket.setTimeout(proxy.limits.headerTimeoutMs, () => socket.destroy());
  socket.once('data', (first: Buffer) => {
    socket.setTimeout(0);
    containPeerInput(
      'accept',
      () => socket.destroy(),
      () => then(first),
    );
  });
}

/** Inbound bytes that are HTTP go through the HTTP path; anything else is proxied as TCP to the app's port (`config`'s route). */
function serveInbound(
  proxy: AcceptContext,
  socket: net.Socket,
  l: ListenerRuntime,
  config: ListenerConfig | undefined,
  first: Buffer,
  peer?: DownstreamConn['peer'],
): void {
  // HTTP/2 with prior knowledge (plaintext; over mTLS, ALPN said so before any byte): served as HTTP/1.1 is, by DownstreamConn's hand-over.
  if (looksLikeHttp(first) || startsWithPreface(first)) {
    if (!peer) return serveHttp(proxy, socket, l, first);
    const conn = new DownstreamConn(socket, l, proxy, peer);
    // HTTP/1.1 over mTLS: the rest of the connection's cleartext through the shared read buffer, as plain connections read.
    if (!startsWithPreface(first)) secureWithOnRead(socket as tls.TLSSocket, (chunk) => conn.received(chunk));
    socket.emit('data', first);
    return;
  }
  const raw = peer?.raw ?? socket;
  const dst = originalDestination(raw);
  const sentTo = dst && dst.port !== l.port ? dst.port : undefined;
  // Not HTTP: L4 authorization (Istio's rules for TCP) before a byte goes to the app.
  const client = raw.remoteAddress ?? '';
  const c = {
    port: sentTo ?? config?.matchPort ?? 0,
    sourceIp: client,
    remoteIp: client,
    principal: peer?.principal,
    namespace: peer?.namespace,
  };
  const local = dst ? `${dst.address}:${dst.port}` : undefined;
  if (!admitConnection(proxy, [socket, raw], config?.authz, c, true, local ? { local } : {})) return;
  const route = config?.virtualHosts?.[0]?.routes[0]?.action;
  const destinations = route?.kind === 'forward' ? route.destinations : [];
  proxyTcp(proxy, socket, destinations, { port: sentTo }, first, { principal: peer?.principal });
}

/**
 * A gateway's TLS port: the ClientHello is read (after a PROXY header, when one is expected) and
 * its server name picks the filter chain (server-names.ts), as Envoy's TLS inspector and filter
 * chain match do. A PASSTHROUGH route sends the bytes on untouched (after L4 authorization); a
 * terminated server answers the handshake with its own certificate and client verification, then
 * serves HTTP with its own routes. No chain for the name (or no name, without a catch-all server),
 * or not TLS within the header timeout: closed.
 */
function acceptByServerName(proxy: AcceptContext, socket: net.Socket, l: ListenerRuntime, chains = l.chains ?? []): void {
  const start = (proxySource?: string, first?: Buffer) =>
    readHello(proxy, socket, first, (hello, name) => {
      const chain = chainFor(chains, name);
      if (!chain) return noFilterChainTcp(proxy, socket, name);
      if (chain.kind === 'passthrough') {
        const config = l.configs[0];
        const peer = socket.remoteAddress ?? '';
        const c = { port: authzPort(config, config?.matchPort ?? l.defaultPort), sourceIp: peer, remoteIp: proxySource || peer };
        if (admitConnection(proxy, [socket], config?.authz, c)) proxyTcp(proxy, socket, chain.destinations, { serverName: name }, hello);
        return;
      }
      // The hello goes back into the socket, where the TLS socket made next reads it first (see serveTls).
      socket.unshift(hello);
      terminate(proxy, socket, l, chain, proxySource);
    });
  if (!expectsProxyHeader(l)) return start();
  // Behind an NLB the PROXY header comes before the ClientHello, outside TLS: read it first.
  readProxyHeader(proxy, socket, (source, rest) => start(source ?? '', rest));
}

/** Reads until the ClientHello is whole (or is not one), then hands on every byte read and the server name; the socket is left paused. */
function readHello(
  proxy: AcceptContext,
  socket: net.Socket,
  first: Buffer | undefined,
  then: (hello: Buffer, serverName: string | undefined) => void,
): void {
  let buf = first ?? Buffer.alloc(0);
  socket.setTimeout(proxy.limits.headerTimeoutMs, () => socket.destroy());
  const onData = (chunk: Buffer) =>
    containPeerInput(
      'accept',
      () => socket.destroy(),
      () => sniff(chunk),
    );
  const sniff = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const hello = readSni(buf);
    if (!hello.done) return;
    socket.off('data', onData);
    socket.pause();
    socket.setTimeout(0);
    then(buf, 'serverName' in hello ? hello.serverName : undefined);
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
  // Bytes read past a PROXY header may hold the hello already; otherwise read on (the gate paused it).
  if (buf.length) onData(Buffer.alloc(0));
  if (socket.listeners('data').includes(onData)) socket.resume();
}

/** A terminated server: its certificate, its client verification (MUTUAL, OPTIONAL_MUTUAL), then HTTP (scheme https) on its routes. */
function terminate(proxy: AcceptContext, socket: net.Socket, l: ListenerRuntime, chain: TerminatedChain, proxySource?: string): void {
  // MUTUAL: a client without a certificate that chains to the server's CAs is closed unread.
  const refused = () => proxy.metrics.inc('mast_downstream_rejected_total{reason="client_certificate"}');
  // ISTIO_MUTUAL: the workload certificate (none yet: nothing to serve with, closed).
  const context = chain.mesh ? proxy.workloadTls : chain.secureContext;
  if (!context) return void socket.destroy();
  const options = {
    context,
    verifyClient: chain.verifyClient,
    handshakeTimeoutMs: proxy.limits.headerTimeoutMs,
    onRefused: refused,
    alpn: ALPN,
  };
  serveTls(socket, options, (secure, certificate) => {
    // A mesh peer's identity (verified against the mesh root) is what authorization sees, as on a sidecar's inbound.
    const identity = chain.mesh ? peerIdentity(certificate?.subjectAltName) : {};
    if (secure.alpnProtocol === 'h2') {
      const conn = { ...tlsH2Connection(l, secure, socket, { certificate, ...identity }, proxySource), server: chain.name };
      return http2Front(proxy).serve(secure as unknown as net.Socket, conn);
    }
    const conn = new DownstreamConn(secure as unknown as net.Socket, l, proxy, { raw: socket, certificate, ...identity }, proxySource);
    conn.scheme = 'https';
    conn.server = chain.name;
  });
}

/** A listener with TCP services or passthrough: the destination port (original, or the listener's own) says which. */
function acceptTcp(proxy: AcceptContext, socket: net.Socket, l: ListenerRuntime): void {
  const dst = originalDestination(socket);
  if (dst && dst.port !== l.port && !l.knows(dst.port)) {
    if (l.passthrough) return passthroughTcp(proxy, socket, dst);
    if (l.blackHole) return blackHoleTcp(proxy, socket, dst);
  }
  const sent = dst && dst.port !== l.port ? dst : undefined;
  const port = sent?.port ?? l.defaultPort;
  const config = l.configFor(port);
  if (config?.protocol === 'tcp' && config.sniRoutes)
    return gateConnection(proxy, socket, config, port, (first) => routeByServerName(proxy, socket, l, config, port, first));
  const original = { port, address: sent?.address };
  if (config?.protocol === 'tcp')
    return gateConnection(proxy, socket, config, port, (first, remote) =>
      proxyTcp(proxy, socket, config.tcpDestinations ?? [], remote ? { ...original, remote } : original, first),
    );
  serveHttp(proxy, socket, l);
}

/** A sidecar's TLS destination port's routes as chains (server-names.ts picks one), made once per config. */
const sniChains = new WeakMap<ListenerConfig, PassthroughChain[]>();
const chainsOf = (config: ListenerConfig) => {
  let chains = sniChains.get(config);
  if (!chains)
    sniChains.set(
      config,
      (chains = (config.sniRoutes ?? []).map((r) => ({ kind: 'passthrough', serverNames: r.sniHosts, destinations: r.destinations }))),
    );
  return chains;
};

/**
 * A sidecar's TLS destination port: the ClientHello's server name picks the route, the bytes go on
 * untouched; a name no route has meets the outbound policy (passed through to the original
 * destination, or reset under REGISTRY_ONLY), as a port the mesh does not know.
 */
function routeByServerName(
  proxy: AcceptContext,
  socket: net.Socket,
  l: ListenerRuntime,
  config: ListenerConfig,
  port: number,
  first?: Buffer,
): void {
  readHello(proxy, socket, first, (hello, name) => {
    const route = chainFor(chainsOf(config), name);
    const dst = originalDestination(socket);
    if (route?.destinations.length)
      return proxyTcp(proxy, socket, route.destinations, { port, address: dst?.address, serverName: name }, hello);
    // A route without destinations (a wildcard ServiceEntry host) goes where the app sent it, as one no route has under ALLOW_ANY.
    if ((route || l.passthrough) && dst) {
      socket.unshift(hello);
      return passthroughTcp(proxy, socket, dst, name);
    }
    blackHoleTcp(proxy, socket, dst, name);
  });
}

/**
 * A sidecar's inbound: with a certificate and unless mTLS is DISABLEd, a first byte of 0x16 (a
 * TLS handshake) makes it mTLS, anything else plaintext, which STRICT refuses. In a pod the mode
 * may be set per port (`portLevelMtls`), and a Sidecar ingress listener (its mode, its own TLS, its
 * endpoint) may own a port: the port the connection was sent to picks them.
 */
function acceptInbound(proxy: AcceptContext, socket: net.Socket, l: ListenerRuntime): void {
  // Where it was sent picks the port-level mode, and on a pod's inbound port a Sidecar ingress listener's config.
  const sentTo = l.configs[0]?.mtlsByPort || l.configs.length > 1 ? originalDestination(socket)?.port : undefined;
  const { config, chains } = l.inboundFor(sentTo);
  // Its own TLS (Sidecar ingress `tls`, only where mTLS is DISABLE): terminated as a gateway server is.
  if (chains) return acceptByServerName(proxy, socket, l, chains);
  const mode = (sentTo !== undefined ? config?.mtlsByPort?.[String(sentTo)] : undefined) ?? config?.mtls;
  const context = proxy.workloadTls;
  if (!mode || mode === 'DISABLE' || !context) {
    if (mode === 'STRICT') return void socket.destroy();
    return firstChunk(proxy, socket, (first) => serveInbound(proxy, socket, l, config, first));
  }
  firstChunk(proxy, socket, (first) => {
    if (first[0] !== 0x16) {
      if (mode === 'STRICT') {
        proxy.metrics.inc('mast_inbound_plaintext_refused_total');
        return void socket.destroy();
      }
      return serveInbound(proxy, socket, l, config, first);
    }
    // The first bytes go back into the socket, where the TLS socket made next reads them first (see serveTls).
    socket.pause();
    socket.unshift(first);
    // The identity authorization sees is the verified chain's (mesh root), never one merely claimed.
    const refused = () => proxy.metrics.inc('mast_inbound_mtls_refused_total');
    serveTls(
      socket,
      { context, verifyClient: true, handshakeTimeoutMs: proxy.limits.headerTimeoutMs, onRefused: refused, alpn: ALPN },
      (secure, certificate) => {
        proxy.metrics.inc('mast_inbound_mtls_connections_total');
        const peer = { raw: socket, certificate, ...peerIdentity(certificate?.subjectAltName) };
        if (secure.alpnProtocol === 'h2')
          return http2Front(proxy).serve(secure as unknown as net.Socket, tlsH2Connection(l, secure, socket, peer));
        // As in plain text (firstChunk): a peer silent after its handshake is closed, not kept.
        socket.setTimeout(proxy.limits.headerTimeoutMs, () => socket.destroy());
        secure.once('data', (inner: Buffer) => {
          socket.setTimeout(0);
          serveInbound(proxy, secure as unknown as net.Socket, l, config, inner, peer);
        });
      },
    );
  });
}
