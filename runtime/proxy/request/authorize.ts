/**
 * The first layer a request meets: its listener may send every request to https (a Gateway's
 * `httpsRedirect`) and may hold AuthorizationPolicies. A pure check of the normalized request
 * (the path routing and the upstream see too); a refusal is answered locally.
 */
import { authorize } from '../../contract/authz';
import type { ListenerConfig } from '../../contract/proxy-config';
import { authzPort } from '../connection-authz';
import type { RequestInfo } from './context';

export type Refusal =
  | { readonly kind: 'https-redirect'; readonly location: string }
  | { readonly kind: 'denied'; readonly policy?: string };

/** Why this request goes no further, or undefined when it may be routed. */
export function refusal(listener: ListenerConfig | undefined, req: RequestInfo): Refusal | undefined {
  if (!listener) return undefined;
  if (listener.httpsRedirect) return { kind: 'https-redirect', location: `https://${req.host}${req.target}` };
  const authz = listener.authz;
  if (!authz) return undefined;
  const p = req.peer;
  const decision = authorize(authz, {
    method: req.method,
    path: req.target,
    host: req.host,
    port: authzPort(listener, req.port),
    sourceIp: req.peerAddress,
    remoteIp: req.clientAddress(),
    principal: p?.principal,
    namespace: p?.namespace,
    header: (name) => req.header(name),
  });
  return decision.allowed ? undefined : { kind: 'denied', policy: decision.policy };
}
