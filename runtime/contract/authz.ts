/**
 * AuthorizationPolicy at the proxy, as Istio evaluates it: any matching DENY rule denies;
 * otherwise, with no ALLOW policy everything is allowed, and with some, only a request matching
 * one of their rules is. A rule matches when one of its sources, one of its operations and all
 * of its conditions match (a missing list matches anything). Pure: the proxy and simulate() run it.
 *
 * A rule is first cut down to what this proxy can evaluate for the traffic at hand (`applicable`):
 * on TCP the HTTP-only fields (hosts, methods, paths, request headers, request principals and
 * `request.auth.*`, which come from a verified JWT), and on both the fields mast does not evaluate
 * at all (fields of newer Istio versions, keys it does not know). Istio's rule, which fails closed: an ALLOW rule with such a
 * field matches nothing (the rule is dropped, not the field); a DENY rule matches with the field
 * ignored (it denies more, never less).
 */
import { BlockList, isIPv6 } from 'node:net';
import {
  claimPath,
  conditionEvaluated,
  EVALUATED_OPERATION_FIELDS,
  EVALUATED_SOURCE_FIELDS,
  HEADER_KEY,
  type AuthzProtocol,
} from '../../api/authorization-fields';
import { claimStrings } from './jwt';

export interface SourceMatch {
  readonly principals?: string[];
  readonly notPrincipals?: string[];
  readonly namespaces?: string[];
  readonly notNamespaces?: string[];
  /** `namespace/name` (mastd qualifies a bare name with the policy's namespace). */
  readonly serviceAccounts?: string[];
  readonly notServiceAccounts?: string[];
  readonly ipBlocks?: string[];
  readonly notIpBlocks?: string[];
  readonly remoteIpBlocks?: string[];
  readonly notRemoteIpBlocks?: string[];
  /** `iss/sub` of the request's verified JWT (RequestAuthentication). */
  readonly requestPrincipals?: string[];
  readonly notRequestPrincipals?: string[];
}

export interface OperationMatch {
  readonly hosts?: string[];
  readonly notHosts?: string[];
  readonly ports?: string[];
  readonly notPorts?: string[];
  readonly methods?: string[];
  readonly notMethods?: string[];
  readonly paths?: string[];
  readonly notPaths?: string[];
}

export interface ConditionMatch {
  readonly key: string;
  readonly values?: string[];
  readonly notValues?: string[];
}

export interface AuthzRule {
  /** `ns/name[index]` of the policy rule, for logs and access denials. */
  readonly name: string;
  readonly from?: SourceMatch[];
  readonly to?: OperationMatch[];
  readonly when?: ConditionMatch[];
}

export interface AuthzConfig {
  readonly deny: AuthzRule[];
  /** Absent: no ALLOW policy applies (allow all). Empty: ALLOW policies without rules (deny all). */
  readonly allow?: AuthzRule[];
  /**
   * The policies annotated `istio.io/dry-run: "true"`: evaluated apart from the others (DENY ones
   * together, ALLOW ones together, as Envoy's shadow rules) and reported, never enforced
   * (authz-dry-run.ts). Absent: no dry-run policy applies.
   */
  readonly dryRun?: AuthzConfig;
}

/** What a connection shows before (or without) any HTTP: enough for L4 authorization. */
export interface AuthzConnection {
  /** The destination port (the app's, the Gateway server's). */
  readonly port: number;
  /** The direct peer's address (`ipBlocks`, `source.ip`): the socket's, never a header's. */
  readonly sourceIp: string;
  /** The original client (PROXY protocol source, trusted x-forwarded-for hop), else the peer (`remoteIpBlocks`). */
  readonly remoteIp: string;
  /** The peer's SPIFFE identity without the scheme (`td/ns/x/sa/y`), from a verified chain; absent without mTLS. */
  readonly principal?: string;
  readonly namespace?: string;
}

/** What a verified JWT says (RequestAuthentication), for `requestPrincipals` and `request.auth.*`. */
export interface RequestAuth {
  /** `iss/sub`. */
  readonly principal: string;
  /** `aud`, as a list (a string `aud` is one). */
  readonly audiences: readonly string[];
  /** `azp`. */
  readonly presenter?: string;
  /** The whole payload, for `request.auth.claims[...]`. */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface AuthzRequest extends AuthzConnection {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  header(name: string): string | undefined;
  /** The request's verified JWT; absent when it carried none (a bad one never reaches authorization: 401). */
  readonly auth?: RequestAuth;
}

export type { AuthzProtocol };

export type AuthzDecision = { readonly allowed: true } | { readonly allowed: false; readonly policy: string };

/** Istio's string match: exact, `prefix*`, `*suffix`, or `*` (any non-empty value). */
export function matchesPattern(pattern: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

const cidrCache = new Map<string, BlockList>();
function inBlocks(blocks: string[], ip: string): boolean {
  const key = blocks.join(',');
  let list = cidrCache.get(key);
  if (!list) {
    list = new BlockList();
    for (const b of blocks) {
      const [addr, bits] = b.split('/');
      const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
      list.addSubnet(addr, bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits), type);
    }
    cidrCache.set(key, list);
  }
  const bare = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return bare !== '' && list.check(bare, isIPv6(bare) ? 'ipv6' : 'ipv4');
}

/** `values` must match (when given) and `notValues` must not. */
function field(values: string[] | undefined, notValues: string[] | undefined, test: (v: string) => boolean): boolean {
  return (!values || values.some(test)) && !notValues?.some(test);
}

/** An empty list is no list (Istio reads `methods: []` as absent). */
const present = (v: unknown): boolean => !Array.isArray(v) || v.length > 0;

/**
 * Keeps the fields of `match` that `known` holds; `dropped` says whether a field (with values)
 * was left out. Empty lists are dropped silently (they say nothing).
 */
function keep<T extends object>(match: T | undefined, known: ReadonlySet<string>): { kept: T; dropped: boolean } {
  let dropped = false;
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(match ?? {})) {
    if (v === undefined || v === null || !present(v)) continue;
    if (known.has(k)) kept[k] = v;
    else dropped = true;
  }
  return { kept: kept as T, dropped };
}

/**
 * The rule as this proxy evaluates it for `protocol`: an ALLOW rule with anything it cannot
 * evaluate is undefined (matches nothing); a DENY rule loses those fields (matches more).
 */
export function applicable(rule: AuthzRule, protocol: AuthzProtocol, action: 'ALLOW' | 'DENY'): AuthzRule | undefined {
  let dropped = false;
  const from = rule.from?.map((s) => {
    const r = keep(s, EVALUATED_SOURCE_FIELDS[protocol]);
    dropped ||= r.dropped;
    return r.kept;
  });
  const to = rule.to?.map((o) => {
    const r = keep(o, EVALUATED_OPERATION_FIELDS[protocol]);
    dropped ||= r.dropped;
    return r.kept;
  });
  const when = rule.when?.filter((c) => {
    if (!c.values?.length && !c.notValues?.length) return false; // says nothing: matches anything, as in Istio
    if (conditionEvaluated(c.key, protocol)) return true;
    dropped = true;
    return false;
  });
  if (dropped && action === 'ALLOW') return undefined;
  return {
    name: rule.name,
    ...(from?.length ? { from } : {}),
    ...(to?.length ? { to } : {}),
    ...(when?.length ? { when } : {}),
  };
}

/** The rules of a config as evaluated for one protocol, worked out once per config object. */
export interface Prepared {
  readonly deny: AuthzRule[];
  readonly allow?: AuthzRule[];
}
const prepared: Record<AuthzProtocol, WeakMap<AuthzConfig, Prepared>> = { http: new WeakMap(), tcp: new WeakMap() };
export function prepare(cfg: AuthzConfig, protocol: AuthzProtocol): Prepared {
  let p = prepared[protocol].get(cfg);
  if (!p) {
    const only = (rules: AuthzRule[], action: 'ALLOW' | 'DENY') =>
      rules.map((r) => applicable(r, protocol, action)).filter((r): r is AuthzRule => r !== undefined);
    p = { deny: only(cfg.deny, 'DENY'), ...(cfg.allow ? { allow: only(cfg.allow, 'ALLOW') } : {}) };
    prepared[protocol].set(cfg, p);
  }
  return p;
}

// Below, a rule has only fields that apply: HTTP fields are read from a request only when present.
/** What a rule is matched against: a connection, and a request's fields when it is HTTP. */
export type Attributes = AuthzConnection & Partial<Omit<AuthzRequest, keyof AuthzConnection>>;

/** `ns/sa` of a SPIFFE principal `td/ns/<ns>/sa/<sa>` (the only form a verified peer has here). */
function serviceAccountOf(principal: string | undefined): string | undefined {
  const parts = principal?.split('/');
  return parts && parts.length === 5 && parts[1] === 'ns' && parts[3] === 'sa' ? `${parts[2]}/${parts[4]}` : undefined;
}

function sourceMatches(s: SourceMatch, r: Attributes): boolean {
  return (
    field(s.principals, s.notPrincipals, (p) => matchesPattern(p, r.principal)) &&
    field(s.namespaces, s.notNamespaces, (n) => matchesPattern(n, r.namespace)) &&
    field(s.serviceAccounts, s.notServiceAccounts, (sa) => sa === serviceAccountOf(r.principal)) &&
    field(s.requestPrincipals, s.notRequestPrincipals, (p) => matchesPattern(p, r.auth?.principal)) &&
    (!s.ipBlocks || inBlocks(s.ipBlocks, r.sourceIp)) &&
    (!s.notIpBlocks || !inBlocks(s.notIpBlocks, r.sourceIp)) &&
    (!s.remoteIpBlocks || inBlocks(s.remoteIpBlocks, r.remoteIp)) &&
    (!s.notRemoteIpBlocks || !inBlocks(s.notRemoteIpBlocks, r.remoteIp))
  );
}

function operationMatches(o: OperationMatch, r: Attributes): boolean {
  return (
    field(o.ports, o.notPorts, (p) => Number(p) === r.port) &&
    field(o.hosts, o.notHosts, (h) => matchesPattern(h.toLowerCase(), r.host?.toLowerCase())) &&
    field(o.methods, o.notMethods, (m) => m === r.method) &&
    field(o.paths, o.notPaths, (p) => matchesPattern(p, r.path?.split('?')[0]))
  );
}

/** The values of a `request.auth.*` key: several for audiences and list claims, none without a JWT. */
function authValues(key: string, r: Attributes): readonly string[] | undefined {
  if (!key.startsWith('request.auth.')) return undefined;
  const auth = r.auth;
  if (key === 'request.auth.principal') return auth ? [auth.principal] : [];
  if (key === 'request.auth.audiences') return auth?.audiences ?? [];
  if (key === 'request.auth.presenter') return auth?.presenter ? [auth.presenter] : [];
  const path = claimPath(key);
  return path ? claimStrings(auth?.claims, path) : [];
}

/** The value of a `when` key (only keys that apply reach here). */
function attribute(key: string, r: Attributes): string | undefined {
  const header = HEADER_KEY.exec(key);
  if (header) return r.header?.(header[1].toLowerCase());
  switch (key) {
    case 'source.ip':
      return r.sourceIp;
    case 'remote.ip':
      return r.remoteIp;
    case 'source.namespace':
      return r.namespace;
    case 'source.principal':
      return r.principal;
    case 'destination.port':
      return String(r.port);
    default:
      return undefined;
  }
}

function conditionMatches(c: ConditionMatch, r: Attributes): boolean {
  const several = authValues(c.key, r);
  if (several) return field(c.values, c.notValues, (v) => several.some((x) => matchesPattern(v, x)));
  const value = attribute(c.key, r);
  if (c.key === 'source.ip' || c.key === 'remote.ip')
    return (
      (!c.values || (value !== undefined && inBlocks(c.values, value))) &&
      (!c.notValues || value === undefined || !inBlocks(c.notValues, value))
    );
  return field(c.values, c.notValues, (v) => matchesPattern(v, value));
}

/** Whether a rule (already cut down by `applicable`) matches. */
export function ruleMatches(rule: AuthzRule, r: Attributes): boolean {
  return (
    (!rule.from || rule.from.some((s) => sourceMatches(s, r))) &&
    (!rule.to || rule.to.some((o) => operationMatches(o, r))) &&
    (!rule.when || rule.when.every((c) => conditionMatches(c, r)))
  );
}

/** The decision's policy when no ALLOW rule matched (Envoy's RBAC says `none`). */
export const NO_ALLOW_MATCHED = 'no ALLOW rule matched';

/**
 * Envoy's RBAC details of a denial (its `connection_termination_details` for a connection, the
 * `response_code_details` of a 403): `rbac_access_denied_matched_policy[ns[NS]-policy[NAME]-rule[I]]`
 * with Istio's policy ids, `[none]` when no ALLOW rule matched, white space as `_`.
 */
export function rbacDeniedDetails(policy: string): string {
  const rule = /^([^/]+)\/(.+)\[(\d+)\]$/.exec(policy);
  const id = policy === NO_ALLOW_MATCHED ? 'none' : rule ? `ns[${rule[1]}]-policy[${rule[2]}]-rule[${rule[3]}]` : policy;
  return `rbac_access_denied_matched_policy[${id.replace(/\s/g, '_')}]`;
}

function decide(p: Prepared, r: Attributes): AuthzDecision {
  const denied = p.deny.find((rule) => ruleMatches(rule, r));
  if (denied) return { allowed: false, policy: denied.name };
  if (!p.allow) return { allowed: true };
  return p.allow.some((rule) => ruleMatches(rule, r)) ? { allowed: true } : { allowed: false, policy: NO_ALLOW_MATCHED };
}

/** An HTTP request (L7): CUSTOM and DENY rules (compiled together into `deny`), then ALLOW. */
export function authorize(cfg: AuthzConfig, r: AuthzRequest): AuthzDecision {
  return decide(prepare(cfg, 'http'), r);
}

/** A connection that is not HTTP (L4): the same order, with the rules as they apply to TCP. */
export function authorizeConnection(cfg: AuthzConfig, c: AuthzConnection): AuthzDecision {
  return decide(prepare(cfg, 'tcp'), c);
}
