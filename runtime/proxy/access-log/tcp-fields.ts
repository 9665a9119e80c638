/**
 * The access log operators' values for a TCP connection (Envoy's tcp_proxy log, one line at close):
 * what the connection's record has, and `-` for the HTTP-only operators (no method, path, headers,
 * protocol, details), as Envoy's usage.rst lists them for TCP. RESPONSE_CODE is 0, as Envoy
 * prints it for a connection (Istio's lines read `"- - -" 0 - - -`).
 */
import { hostname } from 'node:os';
import type { ConnectionRecord } from '../tcp-record';
import type { Fields, Getter } from './fields';

const HOSTNAME = hostname();
const none: Getter<ConnectionRecord> = () => undefined;
const withoutPort = (hostPort: string) => {
  const i = hostPort.lastIndexOf(':');
  return i < 0 ? hostPort : hostPort.slice(0, i);
};

const VALUES: Readonly<Record<string, Getter<ConnectionRecord>>> = {
  START_TIME: (c) => new Date(c.start).toISOString(),
  PROTOCOL: none,
  RESPONSE_CODE: () => 0,
  RESPONSE_FLAGS: (c) => c.flags,
  RESPONSE_CODE_DETAILS: none,
  CONNECTION_TERMINATION_DETAILS: (c) => c.terminationDetails,
  UPSTREAM_TRANSPORT_FAILURE_REASON: (c) => c.transportFailure,
  BYTES_RECEIVED: (c) => c.bytesIn,
  BYTES_SENT: (c) => c.bytesOut,
  DURATION: (c) => c.ms,
  UPSTREAM_HOST: (c) => c.upstream,
  UPSTREAM_CLUSTER: (c) => c.cluster,
  UPSTREAM_CLUSTER_RAW: (c) => c.cluster,
  UPSTREAM_LOCAL_ADDRESS: (c) => c.upstreamLocal,
  DOWNSTREAM_LOCAL_ADDRESS: (c) => c.local,
  DOWNSTREAM_REMOTE_ADDRESS: (c) => c.remote,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (c) => withoutPort(c.remote),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (c) => c.directRemote ?? c.remote,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: (c) => withoutPort(c.directRemote ?? c.remote),
  DOWNSTREAM_PEER_URI_SAN: (c) =>
    c.principal === undefined ? undefined : c.principal.startsWith('spiffe://') ? c.principal : `spiffe://${c.principal}`,
  REQUESTED_SERVER_NAME: (c) => c.serverName,
  ROUTE_NAME: none,
  GRPC_STATUS_NUMBER: none,
  HOSTNAME: () => HOSTNAME,
};

/** A connection has no request headers: every REQ(...) prints `-`. */
export const TCP_FIELDS: Fields<ConnectionRecord> = { values: VALUES, header: () => undefined, start: (c) => c.start };
