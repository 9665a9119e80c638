/**
 * The HTTP/2 and gRPC settings of one resource, checked as Istio's webhook checks them: a fault
 * abort's error type (one of httpStatus, grpcStatus; a gRPC status by its upper-case name; no
 * http2Error), `retryOn` conditions, and a DestinationRule's HTTP/2 connection pool settings.
 */
import { finding, type Finding } from '../findings';
import { grpcStatusCode, GRPC_STATUS_CODES, RETRY_ON, retryOnConditions } from '../grpc-status';
import type { DestinationRule, VirtualService } from '../resources';
import type { HttpRoute } from '../virtual-service';
import type { TrafficPolicy } from '../destination-rule';
import { isToken } from '../tokens';

/** A route's `fault.abort` and `retries.retryOn`. */
export function checkGrpcRoute(vs: VirtualService, route: HttpRoute, path: string, out: Finding[]): void {
  const abort = route.fault?.abort;
  if (abort) {
    const at = `${path}.fault.abort`;
    const types = (['httpStatus', 'grpcStatus', 'http2Error'] as const).filter((k) => abort[k] !== undefined);
    if (types.length > 1) out.push(finding('MAST0117', vs, at, `sets ${types.join(' and ')}; an abort has one error type (Istio's oneof)`));
    const name = abort.grpcStatus;
    if (name !== undefined && !isToken(name) && grpcStatusCode(name) === undefined)
      out.push(finding('MAST0116', vs, `${at}.grpcStatus`, `"${name}" is not a gRPC status name${suggestStatus(name)}`));
    if (abort.http2Error !== undefined)
      out.push(
        finding('MAST0118', vs, `${at}.http2Error`, 'Istio rejects HTTP/2 error aborts (not supported yet): use httpStatus or grpcStatus'),
      );
  }
  const retryOn = route.retries?.retryOn;
  if (retryOn === undefined || isToken(retryOn)) return;
  for (const condition of retryOnConditions(retryOn))
    if (!RETRY_ON.has(condition) && !isStatusCode(condition))
      out.push(
        finding(
          'MAST0115',
          vs,
          `${path}.retries.retryOn`,
          `"${condition}" is not a retry condition: use Envoy's (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes...), the gRPC ones (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) or an HTTP status code`,
        ),
      );
}

/** An HTTP status code, as Istio takes one in retryOn (it adds it to Envoy's retriable status codes). */
const isStatusCode = (s: string) => /^[1-5]\d\d$/.test(s);

/** Istio compares names exactly: point at the upper-case spelling when that is the mistake. */
function suggestStatus(name: string): string {
  const upper = name.toUpperCase().replace(/[- ]/g, '_');
  return Object.hasOwn(GRPC_STATUS_CODES, upper) ? ` (did you mean ${upper}?)` : ` (one of ${Object.keys(GRPC_STATUS_CODES).join(', ')})`;
}

type Policy = NonNullable<TrafficPolicy>;

/** Every traffic policy of a DestinationRule: top level, its port levels, each subset's and their port levels. */
export function checkPoolSettings(dr: DestinationRule, out: Finding[]): void {
  const check = (p: Policy | undefined, at: string) => {
    const http = p?.connectionPool?.http;
    if (!http) return;
    if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true)
      out.push(
        finding(
          'MAST0119',
          dr,
          `${at}.connectionPool.http.useClientProtocol`,
          'useClientProtocol must not be true when h2UpgradePolicy is UPGRADE (Istio rejects both)',
        ),
      );
    for (const field of ['http2MaxRequests', 'maxConcurrentStreams'] as const)
      if (http[field] === 0)
        out.push(
          finding(
            'MAST0120',
            dr,
            `${at}.connectionPool.http.${field}`,
            `${field}: 0 is unset to Istio (proto3): no limit applies; give a positive number or leave it out`,
          ),
        );
  };
  const top = dr.spec.trafficPolicy;
  check(top, 'spec.trafficPolicy');
  top?.portLevelSettings?.forEach((p, i) => check(p as Policy, `spec.trafficPolicy.portLevelSettings[${i}]`));
  dr.spec.subsets?.forEach((s, i) => {
    check(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`);
    s.trafficPolicy?.portLevelSettings?.forEach((p, j) => check(p as Policy, `spec.subsets[${i}].trafficPolicy.portLevelSettings[${j}]`));
  });
}
