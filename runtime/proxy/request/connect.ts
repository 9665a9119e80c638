/**
 * The answer to a CONNECT request, for the HTTP/1.1 codec (the HTTP/2 one takes the same steps in
 * its exchange). Istio's listeners configure no CONNECT upgrade and a CONNECT has no path for their
 * routes to match, so Envoy's router answers 404 (route_not_found, flag NR); the filters before
 * the router run first, so a request authentication that refuses the token, a policy that denies
 * the request (403) or an https redirect answer instead. Pure: the codec writes the answer, logs
 * it and closes what it must.
 */
import type { ListenerConfig } from '../../contract/proxy-config';
import type { DryRunRecord } from '../../contract/authz-dry-run';
import { admit, refusalReply } from './authorize';
import type { RequestInfo } from './context';
import type { Flag } from './record';

export interface ConnectAnswer {
  readonly status: number;
  readonly flag?: Flag;
  readonly body: string;
  readonly headers: Array<[string, string]>;
  /** Envoy's `response_code_details` of a refusal. */
  readonly details?: string;
  readonly dryRun?: DryRunRecord;
}

export function answerConnect(listener: ListenerConfig | undefined, req: RequestInfo): ConnectAnswer {
  const admission = admit(listener, req);
  if (!admission.refusal) return { status: 404, flag: 'NR', body: 'no route\n', headers: [], dryRun: admission.dryRun };
  const r = refusalReply(admission.refusal);
  return { status: r.status, body: r.body, headers: r.headers, details: r.details, dryRun: admission.dryRun };
}
