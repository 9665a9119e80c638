/**
 * `mast-proxy --mesh <yaml>`: the config compiled here from mesh YAML, as mastd would. Loaded only
 * for that flag: the validator, the compiler and the YAML parser cost a proxy fed by mastd memory.
 */
import { formatFinding, loadFiles } from '../../api';
import { compile } from '../control/compile';
import { makeSnapshot } from '../control/snapshot';
import type { ProxyConfig } from '../shared/proxy-config';
import type { ProxyIdentity } from '../shared/push-protocol';

/** The compiled config, or the findings that stop it (formatted, one per line). */
export function configFromMesh(paths: string[], identity: ProxyIdentity): { config: ProxyConfig } | { errors: string[] } {
  const loaded = loadFiles(paths);
  if (loaded.findings.length) return { errors: loaded.findings.map(formatFinding) };
  return { config: compile(makeSnapshot(loaded.objects, 'file-1'), identity) };
}
