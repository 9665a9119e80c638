/**
 * What a finished request leaves behind: its response flags and its record, published on a
 * `node:diagnostics_channel` (as undici publishes its requests) for the metrics and the access
 * log to subscribe to (telemetry.ts), and for anyone else in the process who wants them.
 */
import { channel } from 'node:diagnostics_channel';
import type { ClusterConfig } from '../../contract/proxy-config';
import type { RequestInfo } from './context';
import type { TraceContext } from '../tracing/propagation';
import type { DryRunRecord } from '../../contract/authz-dry-run';

/**
 * Response flags as Envoy names them: NR no route, UH no healthy upstream, UO overflow, UF connect
 * failure, UC upstream reset, UT timeout, URX retries exhausted, DI delayed, FI fault abort, DC
 * downstream gone. Envoy prints them in this (its enum's) order; a request keeps them as bits in it.
 */
const FLAG_ORDER = ['LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'URX', 'DC'] as const;
export type Flag = (typeof FLAG_ORDER)[number];
export const flagBit = (flag: Flag): number => 1 << FLAG_ORDER.indexOf(flag);

export function flagString(bits: number): string {
  if (bits === 0) return '-';
  const names: string[] = [];
  for (let i = 0; i < FLAG_ORDER.length; i++) if (bits & (1 << i)) names.push(FLAG_ORDER[i]);
  return names.join(',');
}

export interface RequestRecord {
  /** The proxy the request went through: a process may run several (tests do), each subscriber counts its own. */
  readonly owner: object;
  /** The request; read it while the message is delivered (the connection's next request reuses it). */
  readonly request: RequestInfo;
  /** Received on a sidecar's inbound listener (the metrics' `reporter="destination"`). */
  readonly inbound: boolean;
  readonly cluster?: ClusterConfig;
  readonly status: number;
  readonly flags: string;
  readonly ms: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly route?: string;
  readonly upstream?: string;
  readonly requestId: string;
  readonly authority: string;
  /** Why the proxy answered itself, e.g. `rbac_access_denied_matched_policy[ns[default]-policy[deny]-rule[0]]`. */
  readonly details?: string;
  /** Why the upstream connection of the last try failed to come up (Node's code: ECONNREFUSED, CERT_HAS_EXPIRED...). */
  readonly transportFailure?: string;
  /** The downstream protocol as the access log names it: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`. */
  readonly protocol: string;
  /** A gRPC request's status (grpc-status of the response's trailers, or of a trailers-only response). */
  readonly grpcStatus?: number;
  /** A gRPC request's messages from the client and from the server (grpc-messages.ts), when they were counted. */
  readonly grpcMessages?: { readonly request: number; readonly response: number };
  /** The request's span (its trace, its parent, sampled or not), when the proxy traces (tracing/tracer.ts). */
  readonly trace?: TraceContext;
  /** What the dry-run AuthorizationPolicies would have done (reported in metrics, the rbac debug log, span tags). */
  readonly dryRun?: DryRunRecord;
}

/** Every finished request's record, published synchronously as it finishes. */
export const requestFinished = channel('mast-proxy:request:finish');
