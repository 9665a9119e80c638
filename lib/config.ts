/**
 * One typed configuration per environment. It comes from props, or from `cdk.json`
 * context (`mast:environments`), with the defaults documented here; nothing is read
 * from the process environment deep inside the stacks.
 */

export type Capacity =
  | {
      readonly type: 'nodegroup';
      readonly instanceTypes?: string[];
      readonly minSize?: number;
      readonly maxSize?: number;
      readonly desiredSize?: number;
      readonly arm64?: boolean;
    }
  | { readonly type: 'automode' };

export type EdgeTls =
  /** No TLS at the edge: only the gateway's plain ports. */
  | { readonly mode: 'none' }
  /** TLS terminated by the gateway, certificate issued by cert-manager with Route 53 DNS-01. */
  | { readonly mode: 'gateway'; readonly email: string; readonly secretName?: string; readonly staging?: boolean }
  /** TLS terminated by the NLB with an ACM certificate (Gateway PASSTHROUGH and MUTUAL then cannot be used). */
  | { readonly mode: 'nlb'; readonly certificateArn?: string };

/**
 * Who reaches the cluster's Kubernetes API. `private`: only from inside the VPC (CDK's kubectl
 * handler runs there); `public` / `public-and-private`: also from the internet, from `cidrs` only.
 */
export type EndpointAccess = { readonly mode: 'private' } | { readonly mode: 'public' | 'public-and-private'; readonly cidrs: string[] };

export interface EnvironmentConfig {
  /** Short name, used in stack and resource names (e.g. `staging`). */
  readonly envName: string;
  /** The hosted zone's domain (e.g. `example.com`); every Gateway host must be in it. */
  readonly zoneName: string;
  /** The hosted zone's id (imported, so synth stays offline). */
  readonly hostedZoneId: string;
  /** Role in the zone's account allowed to change its records, when the zone lives in another account. @default - the zone is in this account */
  readonly zoneRoleArn?: string;
  /** @default - environment-agnostic */
  readonly account?: string;
  /** @default - environment-agnostic */
  readonly region?: string;
  /** @default '1.35' */
  readonly kubernetesVersion?: string;
  /** @default { type: 'nodegroup', instanceTypes: ['m6i.large'], minSize: 2, maxSize: 4, desiredSize: 2 } */
  readonly capacity?: Capacity;
  /** @default 2 */
  readonly maxAzs?: number;
  /** @default 1 */
  readonly natGateways?: number;
  /** IAM principal ARNs given cluster-admin through EKS access entries. @default - none */
  readonly admins?: string[];
  /** @default true */
  readonly crossZone?: boolean;
  /** PROXY protocol v2 from the NLB to the gateway, so it sees client addresses. @default true */
  readonly proxyProtocol?: boolean;
  /** TTL of the CNAME records, in seconds. @default 300 */
  readonly recordTtlSeconds?: number;
  /** @default { mode: 'none' } */
  readonly tls?: EdgeTls;
  /** @default { mode: 'private' } */
  readonly endpointAccess?: EndpointAccess;
  /**
   * Install the mesh CRDs over CRDs of the same names already in the cluster (an Istio install's). Their
   * schemas keep every field, so Istio objects survive; off, such a cluster fails the deploy. @default false
   */
  readonly adoptExistingCrds?: boolean;
}

export const DEFAULTS = {
  kubernetesVersion: '1.35',
  capacity: { type: 'nodegroup', instanceTypes: ['m6i.large'], minSize: 2, maxSize: 4, desiredSize: 2 } as Capacity,
  maxAzs: 2,
  natGateways: 1,
  crossZone: true,
  proxyProtocol: true,
  recordTtlSeconds: 300,
  tls: { mode: 'none' } as EdgeTls,
  endpointAccess: { mode: 'private' } as EndpointAccess,
};

export class ConfigError extends Error {
  readonly code = 'MAST_CONFIG_INVALID';
}

/**
 * Kubernetes versions an environment may ask for: those aws-eks-v2 knows and the bundled kubectl
 * (1.35, `@aws-cdk/lambda-layer-kubectl-v35`) may drive, one minor version either side of its own.
 */
export const KUBERNETES_VERSIONS = ['1.34', '1.35', '1.36'];

/** A setting's shape: a primitive, a list of strings, or an object whose `by` key picks its variant's fields. */
type Shape = 'string' | 'number' | 'boolean' | 'string[]' | Variants;
type Variants = { readonly by: string; readonly variants: Record<string, Record<string, Shape>> };

const CAPACITY: Variants = {
  by: 'type',
  variants: {
    nodegroup: { instanceTypes: 'string[]', minSize: 'number', maxSize: 'number', desiredSize: 'number', arm64: 'boolean' },
    automode: {},
  },
};
const TLS: Variants = {
  by: 'mode',
  variants: {
    none: {},
    gateway: { email: 'string', secretName: 'string', staging: 'boolean' },
    nlb: { certificateArn: 'string' },
  },
};
const ENDPOINT: Variants = {
  by: 'mode',
  variants: { private: {}, public: { cidrs: 'string[]' }, 'public-and-private': { cidrs: 'string[]' } },
};
const ENVIRONMENT: Record<string, Shape> = {
  zoneName: 'string',
  hostedZoneId: 'string',
  zoneRoleArn: 'string',
  account: 'string',
  region: 'string',
  kubernetesVersion: 'string',
  maxAzs: 'number',
  natGateways: 'number',
  admins: 'string[]',
  crossZone: 'boolean',
  proxyProtocol: 'boolean',
  recordTtlSeconds: 'number',
  adoptExistingCrds: 'boolean',
  capacity: CAPACITY,
  tls: TLS,
  endpointAccess: ENDPOINT,
};
const REQUIRED: Record<string, string[]> = { gateway: ['email'], public: ['cidrs'], 'public-and-private': ['cidrs'] };

const show = (v: unknown) => JSON.stringify(v);

function checkValue(path: string, shape: Shape, v: unknown): void {
  if (typeof shape === 'object') return checkVariant(path, shape, v);
  const ok =
    shape === 'string[]'
      ? Array.isArray(v) && v.every((x) => typeof x === 'string')
      : shape === 'number'
        ? Number.isFinite(v)
        : typeof v === shape;
  if (!ok) throw new ConfigError(`${path} must be ${shape === 'string[]' ? 'a list of strings' : `a ${shape}`}, got ${show(v)}`);
}

function checkObject(path: string, fields: Record<string, Shape>, v: unknown, required: readonly string[]): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${path} must be an object, got ${show(v)}`);
  for (const [key, value] of Object.entries(v)) {
    const shape = fields[key];
    if (!shape) throw new ConfigError(`${path}.${key} is not a setting (known: ${Object.keys(fields).join(', ') || 'none'})`);
    checkValue(`${path}.${key}`, shape, value);
  }
  for (const key of required) if ((v as Record<string, unknown>)[key] === undefined) throw new ConfigError(`${path}.${key} is required`);
}

function checkVariant(path: string, spec: Variants, v: unknown): void {
  const kind = (v as Record<string, unknown> | null)?.[spec.by];
  const fields = typeof kind === 'string' ? spec.variants[kind] : undefined;
  if (!fields) throw new ConfigError(`${path}.${spec.by} must be one of ${Object.keys(spec.variants).join(', ')}, got ${show(kind)}`);
  checkObject(path, { [spec.by]: 'string', ...fields }, v, REQUIRED[kind as string] ?? []);
}

/** One environment's settings, checked: unknown keys, wrong types and unsupported values are errors naming the key and the value. */
export function checkEnvironment(envName: string, env: unknown): EnvironmentConfig {
  const path = `mast:environments.${envName}`;
  checkObject(path, ENVIRONMENT, env, ['zoneName', 'hostedZoneId']);
  const e = env as Partial<EnvironmentConfig>;
  if (e.kubernetesVersion !== undefined && !KUBERNETES_VERSIONS.includes(e.kubernetesVersion))
    throw new ConfigError(
      `${path}.kubernetesVersion ${show(e.kubernetesVersion)} is not supported (supported: ${KUBERNETES_VERSIONS.join(', ')})`,
    );
  for (const key of ['maxAzs', 'natGateways', 'recordTtlSeconds'] as const) {
    const n = e[key];
    if (n !== undefined && (!Number.isInteger(n) || n < (key === 'natGateways' ? 0 : 1)))
      throw new ConfigError(`${path}.${key} must be a whole number${key === 'natGateways' ? '' : ' of at least 1'}, got ${show(n)}`);
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(envName))
    throw new ConfigError(`environment name ${show(envName)} must be lowercase letters, digits and dashes`);
  return { envName, ...(env as object) } as EnvironmentConfig;
}

/**
 * Environments from the `mast:environments` context value: an object keyed by environment name, as
 * `cdk.json` holds it, or the same as a JSON string (`cdk synth -c mast:environments='{...}'`).
 */
export function environmentsFromContext(value: unknown): EnvironmentConfig[] {
  if (value === undefined) return [];
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw new ConfigError(`context "mast:environments" given as a string must be JSON: ${(err as Error).message}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`context "mast:environments" must be an object keyed by environment name, got ${show(parsed)}`);
  return Object.entries(parsed).map(([envName, env]) => checkEnvironment(envName, env));
}
