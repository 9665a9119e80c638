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
};

export class ConfigError extends Error {
  readonly code = 'MAST_CONFIG_INVALID';
}

/** Environments from the `mast:environments` context value (an object keyed by env name). */
export function environmentsFromContext(value: unknown): EnvironmentConfig[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(`context "mast:environments" must be an object keyed by environment name, got ${JSON.stringify(value)}`);
  return Object.entries(value as Record<string, Record<string, unknown>>).map(([envName, env]) => {
    for (const field of ['zoneName', 'hostedZoneId'])
      if (typeof env?.[field] !== 'string' || !env[field])
        throw new ConfigError(`mast:environments.${envName}.${field} is required (a string), got ${JSON.stringify(env?.[field])}`);
    return { envName, ...env } as unknown as EnvironmentConfig;
  });
}
