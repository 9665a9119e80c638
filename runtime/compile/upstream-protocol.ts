/**
 * The HTTP version a cluster speaks to its endpoints, decided as Istio's cluster builder does, in
 * its order: the port's protocol (HTTP2, GRPC, GRPC-WEB → h2; a sniffed port on a sidecar → the
 * client's), then the h2 upgrade (the DestinationRule's `h2UpgradePolicy`, else the mesh's),
 * then `useClientProtocol`, which overrides both. Pure.
 */
import { isHttp2Protocol, type TrafficPolicy } from '../../api';
import type { ClusterConfig } from '../contract/proxy-config';
import { isHttpProtocol, type ServicePort } from './endpoints';

type HttpPool = NonNullable<NonNullable<TrafficPolicy['connectionPool']>['http']>;

export interface UpstreamProtocolInput {
  readonly port: ServicePort;
  /** The connection pool's `http` settings that apply (subset and port levels merged). */
  readonly http: HttpPool | undefined;
  /** The mesh config's `h2UpgradePolicy: UPGRADE`. */
  readonly meshUpgrade: boolean;
  /** The cluster is a sidecar's (Istio keeps the client's protocol on sniffed ports there, not at gateways). */
  readonly sidecar: boolean;
}

/** `h2`, `client`, or undefined (HTTP/1.1): ClusterConfig.upstreamProtocol. */
export function upstreamProtocol({ port, http, meshUpgrade, sidecar }: UpstreamProtocolInput): ClusterConfig['upstreamProtocol'] {
  // mast proxies such a port as bytes: no HTTP version to choose (Istio's options would go unused by its tcp_proxy too).
  if (!isHttpProtocol(port.protocol)) return undefined;
  if (http?.useClientProtocol) return 'client';
  if (isHttp2Protocol(port.protocol)) return 'h2';
  if (port.auto && sidecar) return 'client';
  return shouldUpgrade(port, http, meshUpgrade) ? 'h2' : undefined;
}

/**
 * Istio's shouldH2Upgrade: the rule's UPGRADE upgrades any port (its author knows it is HTTP),
 * DO_NOT_UPGRADE never; DEFAULT or unset follows the mesh, for ports declared HTTP only (a
 * sniffed port could carry HTTP/1.1 to an app that speaks nothing else; HTTPS is TLS to Istio).
 */
function shouldUpgrade(port: ServicePort, http: HttpPool | undefined, meshUpgrade: boolean): boolean {
  if (http?.h2UpgradePolicy === 'UPGRADE') return true;
  if (http?.h2UpgradePolicy === 'DO_NOT_UPGRADE') return false;
  return meshUpgrade && ISTIO_HTTP.has(port.protocol ?? '');
}

/** Istio's IsHTTP: protocols declared HTTP (HTTPS and sniffed ports are not). */
const ISTIO_HTTP: ReadonlySet<string> = new Set(['HTTP', 'HTTP2', 'HTTP_PROXY', 'GRPC', 'GRPC-WEB']);
