/**
 * Telemetry `accessLogging` providers checked against the mesh config (a set rule: the Telemetry and
 * the `istio` ConfigMap are two resources).
 */
import { BUILTIN_ACCESS_LOG_PROVIDER } from '../access-log';
import { finding, type Finding } from '../findings';
import { isMeshConfigMap, MESH_CONFIG_KEY } from '../mesh-config';
import type { KubeObject } from '../resources';
import { isPlainObject } from '../shape';
import { ROOT_NAMESPACES } from './policies';
import { yamlLibrary } from '../yaml';

/** The kind of each extension provider of the mesh config (the first root namespace's), by name; the built-in `envoy` among them. */
function providerKinds(objects: readonly KubeObject[]): Map<string, string> {
  const kinds = new Map<string, string>([[BUILTIN_ACCESS_LOG_PROVIDER, 'envoyFileAccessLog']]);
  const cm = ROOT_NAMESPACES.map((ns) => objects.find((o) => isMeshConfigMap(o) && o.metadata?.namespace === ns)).find((o) => o);
  const text = (cm as { data?: Record<string, unknown> } | undefined)?.data?.[MESH_CONFIG_KEY];
  let mesh: unknown;
  try {
    mesh = typeof text === 'string' ? yamlLibrary().parse(text) : undefined;
  } catch {
    return kinds;
  }
  const providers = isPlainObject(mesh) && Array.isArray(mesh.extensionProviders) ? mesh.extensionProviders : [];
  for (const p of providers)
    if (isPlainObject(p) && typeof p.name === 'string') kinds.set(p.name.toLowerCase(), Object.keys(p).find((k) => k !== 'name') ?? 'none');
  return kinds;
}

/**
 * Telemetry `accessLogging` providers against the mesh config: a name no provider has, or a provider
 * that logs nothing (Envoy's own gRPC access log services, a tracing provider), logs nothing; Istio
 * skips it in silence, mast says so (MAST0165, a Warning: the rest of the Telemetry applies).
 */
export function checkAccessLogProviders(objects: readonly KubeObject[]): Finding[] {
  const telemetries = objects.filter(
    (o) => o.kind === 'Telemetry' && Array.isArray((o.spec as { accessLogging?: unknown })?.accessLogging),
  );
  if (!telemetries.length) return [];
  const kinds = providerKinds(objects);
  const out: Finding[] = [];
  for (const t of telemetries)
    ((t.spec as { accessLogging: unknown[] }).accessLogging ?? []).forEach((l, i) => {
      const providers = isPlainObject(l) && Array.isArray(l.providers) ? l.providers : [];
      providers.forEach((p: unknown, j: number) => {
        const name = isPlainObject(p) ? p.name : undefined;
        if (typeof name !== 'string') return;
        // istiod finds a provider by its name in any case.
        const kind = kinds.get(name.toLowerCase());
        const at = `spec.accessLogging[${i}].providers[${j}].name`;
        if (kind === undefined)
          out.push(
            finding(
              'MAST0165',
              t,
              at,
              `no extension provider named ${JSON.stringify(name)} in the mesh config (nor the built-in "envoy"): nothing is logged for it`,
            ),
          );
        else if (kind !== 'envoyFileAccessLog' && kind !== 'envoyOtelAls')
          out.push(
            finding(
              'MAST0165',
              t,
              at,
              `provider ${JSON.stringify(name)} is ${kind}; mast-proxy writes access logs to files (envoyFileAccessLog) and OpenTelemetry collectors (envoyOtelAls): nothing is logged for it`,
            ),
          );
      });
    });
  return out;
}
