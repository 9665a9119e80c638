/**
 * The first layer a request meets: its listener may send every request to https (a Gateway's
 * `httpsRedirect`), may verify the request's JWT (RequestAuthentication: a bad token is a 401) and
 * may hold AuthorizationPolicies, which see the verified token (`requestPrincipals`,
 * `request.auth.*`). A pure check of the normalized request (the path routing and the upstream see
 * too); a refusal is answered locally, and what the JWT changes upstream goes with the route.
 * Policies in dry run are evaluated too, their would-be outcome kept for the record, never enforced.
 */
import { authorize, rbacDeniedDetails } from '../../contract/authz';
import { dryRun, type DryRunRecord } from '../../contract/authz-dry-run';
import type { ListenerConfig } from '../../contract/proxy-config';
import { authzPort } from '../connection-authz';
import { authenticate, type JwtHeaderEdits, unauthorizedReply, upstreamEdits, withJwtEdits } from '../jwt';
import type { RequestView } from '../routing';
import type { RequestInfo } from './context';

export type Refusal =
  | { readonly kind: 'https-redirect'; readonly location: string }
  | { readonly kind: 'unauthenticated'; readonly status: 401 | 403; readonly reason: string; readonly headers: Array<[string, string]> }
  | { readonly kind: 'denied'; readonly policy?: string };

/** The request may go on (`refusal` absent), with the JWT's header edits when its listener verifies tokens. */
export interface Admission {
  readonly refusal?: Refusal;
  readonly jwt?: JwtHeaderEdits;
  /** The verified JWT's payload, for routes matching `@request.auth.claims.*`. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** The dry-run policies' outcomes, whether the request goes on or not: reported, never enforced. */
  readonly dryRun?: DryRunRecord;
}

const ADMITTED: Admission = {};

/** Whether this request goes any further, and what its JWT changes upstream. */
export function admit(listener: ListenerConfig | undefined, req: RequestInfo): Admission {
  if (!listener) return ADMITTED;
  if (listener.httpsRedirect) return { refusal: { kind: 'https-redirect', location: `https://${req.host}${req.target}` } };
  const jwtConfig = listener.jwt;
  let jwt: JwtHeaderEdits | undefined;
  let auth: Parameters<typeof authorize>[1]['auth'];
  if (jwtConfig) {
    const q = req.target.indexOf('?');
    const outcome = authenticate(jwtConfig, {
      header: (name) => req.header(name),
      query: q < 0 ? '' : req.target.slice(q + 1),
      method: req.method,
    });
    if (outcome.kind === 'rejected') {
      // The codecs add content-type themselves: only the challenge goes with the refusal.
      const reply = unauthorizedReply(req.scheme, req.host, req.target, outcome.message, outcome.status);
      const challenge = reply.headers.filter(([n]) => n === 'www-authenticate');
      return { refusal: { kind: 'unauthenticated', status: reply.status, reason: outcome.message, headers: challenge } };
    }
    if (outcome.kind === 'verified') auth = outcome.auth;
    jwt = upstreamEdits(jwtConfig, outcome);
  }
  const admitted: Admission = jwt ? { jwt, ...(auth ? { claims: auth.claims } : {}) } : ADMITTED;
  const authz = listener.authz;
  if (!authz) return admitted;
  const p = req.peer;
  const attributes = {
    method: req.method,
    path: req.target,
    host: req.host,
    port: authzPort(listener, req.port),
    sourceIp: req.peerAddress,
    remoteIp: req.clientAddress(),
    principal: p?.principal,
    namespace: p?.namespace,
    header: (name: string) => req.header(name),
    ...(auth ? { auth } : {}),
  };
  const shadow = dryRun(authz, attributes, 'http');
  const dryRunRecord = shadow?.length ? { dryRun: { port: attributes.port, results: shadow } } : {};
  const decision = authorize(authz, attributes);
  if (!decision.allowed) return { refusal: { kind: 'denied', policy: decision.policy }, ...dryRunRecord };
  return shadow?.length ? { ...admitted, ...dryRunRecord } : admitted;
}

/** What routing sees of the request: itself, or with the verified JWT's claims for claim matches. */
export function routingView<R extends RequestView & { readonly originalAddress?: string }>(
  req: R,
  a: Admission,
): RequestView & { readonly originalAddress?: string } {
  if (!a.claims) return req;
  return {
    method: req.method,
    target: req.target,
    host: req.host,
    port: req.port,
    scheme: req.scheme,
    originalAddress: req.originalAddress,
    header: (name) => req.header(name),
    authClaims: a.claims,
  };
}

/** A decision whose route carries the JWT's header edits (before the route's own), for every upstream path. */
export function withAdmission<D extends { readonly route?: Parameters<typeof withJwtEdits>[0] }>(decision: D, a: Admission): D {
  return a.jwt && decision.route ? { ...decision, route: withJwtEdits(decision.route, a.jwt) } : decision;
}

/** The local reply to a refusal, and its access log `response_code_details` in Envoy's words. */
export interface RefusalReply {
  readonly status: number;
  readonly body: string;
  readonly headers: Array<[string, string]>;
  readonly details?: string;
}

/** One answer per refusal, for every codec: a redirect to https, a refused token (401/403), a denying policy (403). */
export function refusalReply(r: Refusal): RefusalReply {
  switch (r.kind) {
    case 'https-redirect':
      return { status: 301, body: '', headers: [['location', r.location]] };
    case 'unauthenticated':
      // Envoy's detail for a refused token: `jwt_authn_access_denied{Jwt_is_expired}`.
      return { status: r.status, body: r.reason, headers: r.headers, details: `jwt_authn_access_denied{${r.reason.replace(/ /g, '_')}}` };
    case 'denied':
      return {
        status: 403,
        body: 'RBAC: access denied\n',
        headers: [],
        details: r.policy && rbacDeniedDetails(r.policy),
      };
  }
}
