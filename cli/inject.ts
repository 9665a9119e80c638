/**
 * `mast inject`: workload YAML in (yours, or `helm template` output), the same YAML out with the sidecar
 * added where Istio's injection would add it, as `istioctl kube-inject` does. The findings (workloads left
 * without a sidecar, MAST0401) go to stderr.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { formatFinding, InputNotFoundError, loadFiles } from '../api';
import { injectManifests } from '../constructs';
import { FILE_OPTION, parse, requireFiles, UsageError } from './args';
import { USAGE as USAGES } from './usage';

const USAGE = USAGES.inject;

/** `shop=istio-injection=enabled` → labels of a namespace that exists in the cluster, not in the files. */
function namespaceLabels(values: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const v of values) {
    const [ns, key, value] = v.split('=');
    if (!ns || !key || value === undefined) throw new UsageError(`--namespace-label must be <namespace>=<label>=<value>, not "${v}"`);
    out[ns] = { ...out[ns], [key]: value };
  }
  return out;
}

export async function runInject(args: string[]): Promise<number> {
  try {
    const opts = parse(
      args,
      {
        file: FILE_OPTION,
        output: { type: 'string', short: 'o' },
        'proxy-image': { type: 'string' },
        'namespace-label': { type: 'string', multiple: true },
      },
      USAGE,
    );
    const files = requireFiles(opts.file, USAGE);
    const loaded = loadFiles(files);
    const result = injectManifests(loaded.objects, {
      ...(opts['proxy-image'] ? { image: opts['proxy-image'] } : {}),
      namespaceLabels: namespaceLabels(opts['namespace-label'] ?? []),
    });
    for (const f of [...loaded.findings, ...result.findings]) console.error(formatFinding(f));
    const yaml = result.objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
    if (opts.output) writeFileSync(opts.output, yaml);
    else process.stdout.write(yaml);
    console.error(`mast inject: ${result.injected.length} workload(s) injected, ${result.findings.length} left without a sidecar`);
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof InputNotFoundError)) throw err;
    console.error(`mast inject: ${err.message}`);
    return 2;
  }
}
