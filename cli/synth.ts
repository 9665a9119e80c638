/** `mast synth`: manifests for the YAML mesh given (CRDs, control plane, gateway, resources). */
import { App, YamlOutputType } from 'cdk8s';
import { formatFinding, InputNotFoundError, isError, loadFiles, validate } from '../api';
import { apiObjectsOf, Mesh, type GatewayServiceType } from '../constructs';
import { FILE_OPTION, parse, requireFiles, UsageError } from './args';
import { USAGE as USAGES } from './usage';

const USAGE = USAGES.synth;
const SERVICE_TYPES: GatewayServiceType[] = ['LoadBalancer', 'ClusterIP', 'NodePort'];

export async function runSynth(args: string[]): Promise<number> {
  try {
    const opts = parse(
      args,
      {
        file: FILE_OPTION,
        out: { type: 'string', default: 'dist' },
        'gateway-service': { type: 'string', default: 'LoadBalancer' },
        dashboards: { type: 'boolean', default: false },
      },
      USAGE,
    );
    const files = requireFiles(opts.file, USAGE);
    const serviceType = opts['gateway-service'] as GatewayServiceType;
    if (!SERVICE_TYPES.includes(serviceType))
      throw new UsageError(`--gateway-service must be one of ${SERVICE_TYPES.join(', ')}, not "${serviceType}"`);
    const loaded = loadFiles(files);
    const app = new App({ outdir: opts.out, yamlOutputType: YamlOutputType.FILE_PER_CHART });
    const mesh = new Mesh(app, 'mesh', { gateway: { serviceType }, dashboards: opts.dashboards === true });
    mesh.addObjects(loaded.objects);
    // Validate the user's objects (which keep their file and line) together with the generated gateway.
    const generated = apiObjectsOf(mesh.system);
    const findings = [...loaded.findings, ...validate([...loaded.objects, ...generated]), ...mesh.findings];
    for (const f of findings) console.error(formatFinding(f));
    if (findings.some(isError)) {
      console.error(`mast synth: the mesh has ${findings.filter(isError).length} error(s); nothing was written`);
      return 1;
    }
    app.synth();
    console.log(`wrote ${app.charts.length} manifests to ${opts.out}/`);
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof InputNotFoundError)) throw err;
    console.error(`mast synth: ${err.message}`);
    return 2;
  }
}
