/**
 * `mast local`'s Secrets: those its gateway's Gateways and the DestinationRules it applies name as
 * `credentialName` (with the `<name>-cacert` Secret a CA may come from), written as kubelet mounts a
 * Secret (one directory per Secret, one file per key) where the proxy reads them
 * (`--credentials-dir`), and re-written when the input changes them; the same for a sidecar whose
 * DestinationRules (with a workloadSelector) name one. As Istio does, only Secrets of the proxy's
 * namespace are handed to it (the gateway's: mast-system, and istio-system, where Istio's tasks put
 * them); a credentialName without one there is a finding naming the namespaces, and that server is
 * not served (MAST0215) or that origination fails (MAST0170). The keys never go into mastd's snapshot.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CACERTS_SECRET,
  clientTlsSettings,
  finding,
  formatFinding,
  namespaceOf,
  selects,
  SYSTEM_NAMESPACE,
  type DestinationRule,
  type Gateway,
  type KubeObject,
} from '../../api';
import type { PluggedCa } from '../control/ca';
import { pluggedCaOf } from '../control/cacerts';

/** A Secret's name, and its keys (Kubernetes' rules): nothing else becomes a path. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const CA_SECRET_SUFFIX = '-cacert';

export interface CredentialPlan {
  /** Secret name → its keys and their bytes, for the gateway's namespace. */
  readonly secrets: ReadonlyMap<string, ReadonlyMap<string, Buffer>>;
  /** One finding line per credentialName the gateway cannot have. */
  readonly problems: readonly string[];
}

const isSecret = (o: KubeObject) => o.kind === 'Secret' && o.apiVersion === 'v1';

/** A Secret's keys, `data` (base64) and `stringData` (text, winning as the API server merges it). */
function keysOf(secret: KubeObject): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const text = (secret.stringData ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(data))
    if (typeof v === 'string' && SECRET_KEY.test(k) && k !== '.' && k !== '..') keys.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(text))
    if (typeof v === 'string' && SECRET_KEY.test(k) && k !== '.' && k !== '..') keys.set(k, Buffer.from(v));
  return keys;
}

/**
 * Which Secrets a proxy (its namespaces and labels) gets, and what it is asked to use that it cannot
 * have: a gateway, the credentialNames of the Gateways selecting it and of the DestinationRules
 * without workloadSelector; a sidecar (`gateway` false), those of the DestinationRules of its
 * namespace whose workloadSelector selects it, as Istio applies them. Pure.
 */
export function planCredentials(
  objects: readonly KubeObject[],
  namespaces: readonly string[],
  labels: Record<string, string>,
  gateway = true,
): CredentialPlan {
  const who = gateway ? 'the gateway runs' : 'the workload runs';
  const readsCredentials = (dr: DestinationRule) => {
    const selector = dr.spec.workloadSelector;
    if (!selector) return gateway;
    return namespaces.includes(namespaceOf(dr)) && selects(selector.matchLabels ?? {}, labels);
  };
  const secrets = objects.filter(isSecret);
  // The first namespace's Secret of a name wins (the gateway's own before istio-system).
  const here = new Map<string, KubeObject>();
  for (const ns of [...namespaces].reverse()) for (const s of secrets) if (namespaceOf(s) === ns) here.set(s.metadata.name, s);
  const wanted = new Map<string, Map<string, Buffer>>();
  const problems: string[] = [];
  /** The Secret `name` (and its `<name>-cacert`) handed over, or a finding naming where it is instead. */
  const want = (name: string | undefined, report: (why: string) => string) => {
    if (!name || !SECRET_NAME.test(name)) return;
    const secret = here.get(name);
    if (secret) {
      wanted.set(name, keysOf(secret));
      const ca = here.get(`${name}${CA_SECRET_SUFFIX}`);
      if (ca) wanted.set(ca.metadata.name, keysOf(ca));
      return;
    }
    const elsewhere = secrets.filter((s) => s.metadata.name === name).map(namespaceOf);
    problems.push(
      report(
        elsewhere.length
          ? `Secret "${name}" is in namespace ${elsewhere.join(', ')}, not in ${namespaces.join(', ')} where ${who} (Istio reads it from the ${gateway ? "gateway's" : "workload's"} namespace only)`
          : `Secret "${name}" not found in ${namespaces.join(', ')}`,
      ),
    );
  };
  const gateways = objects
    .filter((o): o is KubeObject & Gateway => gateway && o.kind === 'Gateway' && o.apiVersion.startsWith('networking.istio.io/'))
    .filter((g) => Array.isArray(g.spec?.servers) && selects(g.spec.selector ?? {}, labels));
  for (const gw of gateways)
    gw.spec.servers.forEach((server, i) =>
      want(server.tls?.credentialName ?? server.tls?.credentialNames?.[0], (why) =>
        formatFinding(finding('MAST0215', gw, `spec.servers[${i}].tls.credentialName`, `${why}: the server is not served`)),
      ),
    );
  for (const dr of objects.filter(isDestinationRule))
    if (readsCredentials(dr))
      for (const { at, tls } of originationCredentials(dr))
        want(tls.credentialName, (why) =>
          formatFinding(finding('MAST0170', dr, `${at}.credentialName`, `${why}: TLS origination to ${dr.spec.host} fails`)),
        );
  return { secrets: wanted, problems };
}

/**
 * The Secrets of gateways that share one credentials directory (mast local's ingress and egress
 * gateways): each one's plan (its own labels select its Gateways), united, a problem said once.
 */
export function planGatewayCredentials(
  objects: readonly KubeObject[],
  namespaces: readonly string[],
  gateways: ReadonlyArray<Record<string, string>>,
): CredentialPlan {
  const plans = gateways.map((labels) => planCredentials(objects, namespaces, labels));
  return { secrets: new Map(plans.flatMap((p) => [...p.secrets])), problems: [...new Set(plans.flatMap((p) => p.problems))] };
}

const isDestinationRule = (o: KubeObject): o is KubeObject & DestinationRule =>
  o.kind === 'DestinationRule' &&
  o.apiVersion.startsWith('networking.istio.io/') &&
  typeof (o.spec as { host?: unknown } | undefined)?.host === 'string';

/** A DestinationRule's `tls` settings that originate TLS with a credentialName. */
const originationCredentials = (dr: DestinationRule) =>
  clientTlsSettings(dr.spec).filter(({ tls }) => !!tls.credentialName && (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL'));

/**
 * Writes the plan into `dir` as kubelet would mount it: a file that changed is replaced whole
 * (written beside it, then renamed, so the gateway never reads half a key); keys and Secrets no
 * longer there are removed. Keys are readable by this user only.
 */
export function writeCredentials(dir: string, plan: CredentialPlan): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, keys] of plan.secrets) {
    const at = join(dir, name);
    mkdirSync(at, { recursive: true, mode: 0o700 });
    for (const [key, bytes] of keys) {
      const file = join(at, key);
      if (existsSync(file) && readFileSync(file).equals(bytes)) continue;
      writeFileSync(`${file}.tmp`, bytes, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    }
    for (const old of readdirSync(at)) if (!keys.has(old)) rmSync(join(at, old), { force: true });
  }
  for (const old of readdirSync(dir)) if (!plan.secrets.has(old)) rmSync(join(dir, old), { recursive: true, force: true });
}

/** The objects for mastd's snapshot: Secrets keep their names (validation reads them), not their keys. */
export function withoutSecretData(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((o) =>
    isSecret(o) ? { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata, ...(o.type ? { type: o.type } : {}) } : o,
  );
}

/**
 * Istio's plug-in CA for `mast local`: a `cacerts` Secret in mast-system or istio-system (where the
 * task creates it) of the input, as mastd in a cluster mounts it. Read at start; undefined without one.
 */
export function pluggedCaIn(objects: readonly KubeObject[]): PluggedCa | undefined {
  for (const ns of [SYSTEM_NAMESPACE, 'istio-system']) {
    const secret = objects.find((o) => isSecret(o) && o.metadata.name === CACERTS_SECRET && namespaceOf(o) === ns);
    if (secret) return pluggedCaOf(new Map([...keysOf(secret)].map(([k, v]) => [k, v.toString('utf8')])));
  }
  return undefined;
}
