/**
 * Telemetry `metrics` providers checked against the mesh config (a set rule: the Telemetry and the
 * `istio` ConfigMap are two resources): mast-proxy reports Istio's metrics to Prometheus providers only.
 */
import { finding, type Finding } from '../findings';
import { isMeshConfigMap, MESH_CONFIG_KEY } from '../mesh-config';
import type { KubeObject } from '../resources';
import { isPlainObject } from '../shape';
import { prometheusProviders } from '../telemetry-metrics';
import { ROOT_NAMESPACES } from './policies';
import { yamlLibrary } from '../yaml';

/** The mesh config of the first root namespace that has one, parsed; {} when none or unreadable (its own findings say why). */
function meshOf(objects: readonly KubeObject[]): Record<string, unknown> {
  const cm = ROOT_NAMESPACES.map((ns) => objects.find((o) => isMeshConfigMap(o) && o.metadata?.namespace === ns)).find((o) => o);
  const text = (cm as { data?: Record<string, unknown> } | undefined)?.data?.[MESH_CONFIG_KEY];
  try {
    const mesh: unknown = typeof text === 'string' ? yamlLibrary().parse(text) : undefined;
    return isPlainObject(mesh) ? mesh : {};
  } catch {
    return {};
  }
}

/** A provider a Telemetry's `metrics` names that is not a Prometheus one: Istio reports to it, mast reports nothing there (MAST0187). */
export function checkMetricsProviders(objects: readonly KubeObject[]): Finding[] {
  const telemetries = objects.filter((o) => o.kind === 'Telemetry' && Array.isArray((o.spec as { metrics?: unknown })?.metrics));
  if (!telemetries.length) return [];
  const prometheus = prometheusProviders(meshOf(objects));
  const out: Finding[] = [];
  for (const t of telemetries)
    ((t.spec as { metrics: unknown[] }).metrics ?? []).forEach((m, i) => {
      const providers = isPlainObject(m) && Array.isArray(m.providers) ? m.providers : [];
      providers.forEach((p: unknown, j: number) => {
        const name = isPlainObject(p) ? p.name : undefined;
        if (typeof name === 'string' && !prometheus.has(name))
          out.push(
            finding(
              'MAST0187',
              t,
              `spec.metrics[${i}].providers[${j}].name`,
              `${JSON.stringify(name)} is not a Prometheus provider of the mesh config (nor the built-in "prometheus"): mast-proxy reports nothing to it`,
            ),
          );
      });
    });
  return out;
}
