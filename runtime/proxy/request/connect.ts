/**
 * The answer to a CONNECT request, for the HTTP/1.1 codec (the HTTP/2 one takes the same steps in
 * its exchange). Istio's listeners configure no CONNECT upgrade and a CONNECT has no path for their
 * routes to match, so Envoy's router answers 404 (route_not_found, flag NR); the filters before
 * the router run first, so a request authentication that refuses the token, a policy that denies
 * the request (403) or an https redirect answer instead. The codec writes the answer, logs it
 * (with the request id given here, as every request has one) and closes what it must.
 */
import type { ListenerConfig } from '../../contract/proxy-config';
import type { DryRunRecord } from '../../contract/authz-dry-run';
import { admit, refusalReply } from './authorize';
import type { RequestInfo } from './context';
import type { Flag } from './record';
import { RequestIds } from '../request-id';

export interface ConnectAnswer {
  readonly status: number;
  readonly flag?: Flag;
  readonly body: string;
  readonly headers: Array<[string, string]>;
  /** Envoy's `response_code_details` of a refusal. */
  readonly details?: string;
  readonly dryRun?: DryRunRecord;
  /** The client's x-request-id where it is kept (not at a gateway, as exchange.ts), else a new one. */
  readonly requestId: string;
}

/** Made on the first CONNECT: most proxies never see one. */
let ids: RequestIds | undefined;

/** `edge`: the proxy is a gateway, whose clients' x-request-id is not kept. */
export function answerConnect(listener: ListenerConfig | undefined, req: RequestInfo, edge: boolean): ConnectAnswer {
  const requestId = (!edge && req.header('x-request-id')) || (ids ??= new RequestIds()).next();
  const admission = admit(listener, req);
  if (!admission.refusal) return { status: 404, flag: 'NR', body: 'no route\n', headers: [], dryRun: admission.dryRun, requestId };
  const r = refusalReply(admission.refusal);
  return { status: r.status, body: r.body, headers: r.headers, details: r.details, dryRun: admission.dryRun, requestId };
}
