/**
 * AuthorizationPolicy at the proxy, as Istio evaluates it: any matching DENY rule denies;
 * otherwise, with no ALLOW policy everything is allowed, and with some, only a request matching
 * one of their rules is. A rule matches when one of its sources, one of its operations and all
 * of its conditions match (a missing list matches anything). Pure: the proxy and simulate() run it.
 */
import { BlockList, isIPv6 } from 'node:net';

export interface SourceMatch {
  readonly principals?: string[];
  readonly notPrincipals?: string[];
  readonly namespaces?: string[];
  readonly notNamespaces?: string[];
  readonly ipBlocks?: string[];
  readonly notIpBlocks?: string[];
  readonly remoteIpBlocks?: string[];
  readonly notRemoteIpBlocks?: string[];
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
}

export interface AuthzRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly port: number;
  /** The peer's address (the previous hop). */
  readonly sourceIp: string;
  /** The original client (x-forwarded-for / PROXY protocol), when known. */
  readonly remoteIp: string;
  /** The peer's SPIFFE identity without the scheme (`td/ns/x/sa/y`); absent without mTLS. */
  readonly principal?: string;
  readonly namespace?: string;
  header(name: string): string | undefined;
}

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
  return (!values || values.some(test)) && (!notValues || !notValues.some(test));
}

function sourceMatches(s: SourceMatch, r: AuthzRequest): boolean {
  return (
    field(s.principals, s.notPrincipals, (p) => matchesPattern(p, r.principal)) &&
    field(s.namespaces, s.notNamespaces, (n) => matchesPattern(n, r.namespace)) &&
    (!s.ipBlocks || inBlocks(s.ipBlocks, r.sourceIp)) &&
    (!s.notIpBlocks || !inBlocks(s.notIpBlocks, r.sourceIp)) &&
    (!s.remoteIpBlocks || inBlocks(s.remoteIpBlocks, r.remoteIp)) &&
    (!s.notRemoteIpBlocks || !inBlocks(s.notRemoteIpBlocks, r.remoteIp))
  );
}

function operationMatches(o: OperationMatch, r: AuthzRequest): boolean {
  return (
    field(o.hosts, o.notHosts, (h) => matchesPattern(h.toLowerCase(), r.host.toLowerCase())) &&
    field(o.ports, o.notPorts, (p) => Number(p) === r.port) &&
    field(o.methods, o.notMethods, (m) => m === r.method) &&
    field(o.paths, o.notPaths, (p) => matchesPattern(p, r.path.split('?')[0]))
  );
}

/** The value of a `when` key; undefined for keys this proxy does not know (they never match). */
function attribute(key: string, r: AuthzRequest): string | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return r.header(header[1].toLowerCase());
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

function conditionMatches(c: ConditionMatch, r: AuthzRequest): boolean {
  const value = attribute(c.key, r);
  if (c.key === 'source.ip' || c.key === 'remote.ip') return (!c.values || (value !== undefined && inBlocks(c.values, value))) && (!c.notValues || value === undefined || !inBlocks(c.notValues, value));
  return field(c.values, c.notValues, (v) => matchesPattern(v, value));
}

export function ruleMatches(rule: AuthzRule, r: AuthzRequest): boolean {
  return (!rule.from || rule.from.some((s) => sourceMatches(s, r))) && (!rule.to || rule.to.some((o) => operationMatches(o, r))) && (!rule.when || rule.when.every((c) => conditionMatches(c, r)));
}

export function authorize(cfg: AuthzConfig, r: AuthzRequest): AuthzDecision {
  const denied = cfg.deny.find((rule) => ruleMatches(rule, r));
  if (denied) return { allowed: false, policy: denied.name };
  if (!cfg.allow) return { allowed: true };
  return cfg.allow.some((rule) => ruleMatches(rule, r)) ? { allowed: true } : { allowed: false, policy: 'no ALLOW rule matched' };
}
