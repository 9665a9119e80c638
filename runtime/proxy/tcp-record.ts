/**
 * What a closed TCP-proxied connection leaves behind, as record.ts is for a request: its record,
 * published on a `node:diagnostics_channel` when the connection closes (or is refused), for the
 * access log to subscribe to (telemetry.ts). Envoy's tcp_proxy logs one line per connection at
 * close, through the same access logs as HTTP; this is what that line is made of.
 */
import { channel } from 'node:diagnostics_channel';

export interface ConnectionRecord {
  /** The proxy the connection went through (a process may run several). */
  readonly owner: object;
  /** Received on a sidecar's inbound listener (the server side's access logs). */
  readonly inbound: boolean;
  /** Wall clock (ms since the epoch) when the connection was accepted or handed to TCP proxying. */
  readonly start: number;
  /** Whole milliseconds the downstream connection lasted. */
  readonly ms: number;
  /** Bytes received from the client. */
  readonly bytesIn: number;
  /** Bytes sent to the client. */
  readonly bytesOut: number;
  /** Envoy's response flags for TCP: `-`, UH (no healthy upstream), UF (connect failure), NR (no filter chain). */
  readonly flags: string;
  /** The cluster it went to (PassthroughCluster, BlackHoleCluster included), if any. */
  readonly cluster?: string;
  /** The upstream endpoint, `address:port`. */
  readonly upstream?: string;
  /** The upstream connection's own address, `address:port`. */
  readonly upstreamLocal?: string;
  /** The client, `address:port`: behind a PROXY-protocol load balancer, the header's source (Envoy's proxy_protocol filter). */
  readonly remote: string;
  /** The peer of the socket, `address:port`, when it is not `remote` (the load balancer). */
  readonly directRemote?: string;
  /** Why its upstream connection never came up (Node's code: ECONNREFUSED, a certificate refused...). */
  readonly transportFailure?: string;
  /** Why the proxy closed it (Envoy's connection_termination_details), e.g. an RBAC denial. */
  readonly terminationDetails?: string;
  /** Where the client connected: its original destination when captured, else the listener's address. */
  readonly local?: string;
  /** The client's verified identity (an inbound mTLS peer), `td/ns/x/sa/y`. */
  readonly principal?: string;
  /** The TLS server name the client asked for (SNI), when the proxy read one. */
  readonly serverName?: string;
}

/** Every finished TCP connection's record, published synchronously as it closes. */
export const connectionClosed = channel('mast-proxy:tcp:close');
