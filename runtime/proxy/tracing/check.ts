/** A ProxyConfig's `tracing` checked before it is applied (config-check.ts): the reason becomes the NACK. */
import type { TracingConfig } from '../../contract/proxy-config';

export function checkTracing(t: TracingConfig): string | undefined {
  if (!t || typeof t !== 'object') return 'tracing is not an object';
  if (typeof t.samplingPercent !== 'number' || !(t.samplingPercent >= 0 && t.samplingPercent <= 100))
    return `tracing.samplingPercent must be a number in [0, 100], not ${JSON.stringify(t.samplingPercent)}`;
  if (typeof t.serviceName !== 'string') return 'tracing.serviceName must be a string';
  if (!Array.isArray(t.tags)) return 'tracing.tags must be an array';
  for (const tag of t.tags)
    if (typeof tag?.name !== 'string' || !('literal' in tag || 'environment' in tag || 'header' in tag))
      return `tracing: bad tag ${JSON.stringify(tag)} (a name and one of literal, environment, header)`;
  if (t.only !== undefined && t.only !== 'CLIENT' && t.only !== 'SERVER')
    return `tracing.only must be CLIENT or SERVER, not ${JSON.stringify(t.only)}`;
  if (t.b3 !== undefined && t.b3 !== 'B3' && t.b3 !== 'B3_AND_W3C')
    return `tracing.b3 must be B3 or B3_AND_W3C, not ${JSON.stringify(t.b3)}`;
  if (t.server !== undefined) {
    const p = t.server?.samplingPercent;
    if (typeof p !== 'number' || !(p >= 0 && p <= 100))
      return `tracing.server.samplingPercent must be a number in [0, 100], not ${JSON.stringify(p)}`;
    if (!Array.isArray(t.server.tags)) return 'tracing.server.tags must be an array';
  }
  const c = t.collector;
  if (c !== undefined) {
    if (typeof c.host !== 'string' || !c.host) return 'tracing.collector.host must be a non-empty string';
    if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) return `tracing.collector: bad port ${JSON.stringify(c.port)}`;
    if (c.protocol !== undefined && c.protocol !== 'http' && c.protocol !== 'grpc' && c.protocol !== 'zipkin')
      return `tracing.collector.protocol must be http, grpc or zipkin, not ${JSON.stringify(c.protocol)}`;
    if (typeof c.path !== 'string' || !c.path.startsWith('/'))
      return `tracing.collector.path must start with /, not ${JSON.stringify(c.path)}`;
  }
  return undefined;
}
