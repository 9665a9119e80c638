/**
 * `mast-proxy --mesh <yaml>`: the config compiled here from mesh YAML, as mastd would. Loaded only
 * for that flag (in a short-lived process of the bundle): the validator, the compiler and the YAML
 * parser cost a proxy fed by mastd memory.
 */
import { formatFinding, isError, loadFiles, validate } from '../../api';
import { buildIndex, compile, makeSnapshot } from '../compile';
import type { ProxyConfig } from '../contract/proxy-config';
import type { ProxyIdentity } from '../contract/push-protocol';

/**
 * The compiled config, or the findings that stop it (formatted, one per line). As mastd does, a
 * resource with errors of its own is refused (here the whole start is: there is no last good
 * version to keep), and errors across resources (a route to a subset nothing defines) are
 * reported beside a config that is served. The default ingress gateway counts as there, as
 * `mast validate` counts it.
 */
export function configFromMesh(
  paths: string[],
  identity: ProxyIdentity,
): { config: ProxyConfig; warnings: string[] } | { errors: string[] } {
  const loaded = loadFiles(paths);
  if (loaded.findings.length) return { errors: loaded.findings.map(formatFinding) };
  const own = validate(loaded.objects, { scope: 'resource' }).filter(isError);
  if (own.length) return { errors: own.map(formatFinding) };
  const across = validate(loaded.objects, { scope: 'set', defaultIngressGateway: true }).filter(isError);
  return { config: compile(buildIndex(makeSnapshot(loaded.objects, 'file-1')), identity), warnings: across.map(formatFinding) };
}
