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
 * handler runs there). `public-and-private`: also from the internet, from `cidrs` only (IPv4 blocks).
 * `public`: from the whole internet and not from inside the VPC (EKS's public-only endpoint, which
 * aws-eks-v2 cannot restrict: its kubectl handler would lose the API), an AwsSolutions-EKS1 finding.
 */
export type EndpointAccess =
  | { readonly mode: 'private' }
  | { readonly mode: 'public' }
  | { readonly mode: 'public-and-private'; readonly cidrs: string[] };

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

/** A bad setting; the message names the key and the value, after the code (as the other MAST_* errors). */
export class ConfigError extends Error {
  readonly code = 'MAST_CONFIG_INVALID';
  /** The message without the code. */
  readonly detail: string;
  constructor(detail: string) {
    super(`MAST_CONFIG_INVALID: ${detail}`);
    this.detail = detail;
  }
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
  variants: { private: {}, public: {}, 'public-and-private': { cidrs: 'string[]' } },
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
const REQUIRED: Record<string, string[]> = { gateway: ['email'], 'public-and-private': ['cidrs'] };

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
    if (!shape) {
      const hint = key === 'cidrs' ? ' (an endpoint restricted to CIDRs is mode "public-and-private")' : '';
      throw new ConfigError(`${path}.${key} is not a setting${hint} (known: ${Object.keys(fields).join(', ') || 'none'})`);
    }
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

/** An IPv4 CIDR block as EKS takes it for `publicAccessCidrs`: four octets 0–255 and a prefix 0–32. */
const isIpv4Cidr = (v: string) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
  return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
};

/** API endpoint access, checked (its shape, and each CIDR an IPv4 block); `path` names it in errors. */
export function checkEndpointAccess(path: string, access: unknown): EndpointAccess {
  checkVariant(path, ENDPOINT, access);
  const a = access as EndpointAccess;
  if (a.mode === 'public-and-private') {
    if (a.cidrs.length === 0) throw new ConfigError(`${path}.cidrs must name at least one CIDR block, got []`);
    a.cidrs.forEach((c, i) => {
      if (!isIpv4Cidr(c)) throw new ConfigError(`${path}.cidrs[${i}] must be an IPv4 CIDR block (e.g. 203.0.113.0/24), got ${show(c)}`);
    });
  }
  return a;
}

/** A Kubernetes version aws-eks-v2 and the bundled kubectl can run; `path` names it in errors. */
export function checkKubernetesVersion(path: string, version: unknown): string {
  if (typeof version !== 'string' || !KUBERNETES_VERSIONS.includes(version))
    throw new ConfigError(`${path} ${show(version)} is not supported (supported: ${KUBERNETES_VERSIONS.join(', ')})`);
  return version;
}

/** One environment's settings, checked: unknown keys, wrong types and unsupported values are errors naming the key and the value. */
export function checkEnvironment(envName: string, env: unknown, path = `mast:environments.${envName}`): EnvironmentConfig {
  checkObject(path, ENVIRONMENT, env, ['zoneName', 'hostedZoneId']);
  const e = env as Partial<EnvironmentConfig>;
  if (e.kubernetesVersion !== undefined) checkKubernetesVersion(`${path}.kubernetesVersion`, e.kubernetesVersion);
  for (const key of ['maxAzs', 'natGateways', 'recordTtlSeconds'] as const) {
    const n = e[key];
    if (n !== undefined && (!Number.isInteger(n) || n < (key === 'natGateways' ? 0 : 1)))
      throw new ConfigError(`${path}.${key} must be a whole number${key === 'natGateways' ? '' : ' of at least 1'}, got ${show(n)}`);
  }
  if (e.account !== undefined && !/^\d{12}$/.test(e.account))
    throw new ConfigError(`${path}.account must be an AWS account id of 12 digits, got ${show(e.account)}`);
  if (e.endpointAccess) checkEndpointAccess(`${path}.endpointAccess`, e.endpointAccess);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(envName))
    throw new ConfigError(`environment name ${show(envName)} must be lowercase letters, digits and dashes`);
  return { envName, ...(env as object) } as EnvironmentConfig;
}

/**
 * A stack's typed `config`, checked as `cdk.json`'s environments are: TypeScript's types vanish at run
 * time (a config read from JSON, or cast), so the same errors, under the prop's path.
 */
export function checkConfig(config: EnvironmentConfig, path = 'config'): EnvironmentConfig {
  if (typeof config !== 'object' || config === null) throw new ConfigError(`${path} must be an object, got ${show(config)}`);
  const { envName, ...env } = config;
  if (typeof envName !== 'string')
    throw new ConfigError(`${path}.envName ${envName === undefined ? 'is required' : `must be a string, got ${show(envName)}`}`);
  return checkEnvironment(envName, env, path);
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
