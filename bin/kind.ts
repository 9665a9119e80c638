/** Synthesizes the bundled example for a local kind cluster into dist/ (`npm run synth`). */
import { App, YamlOutputType } from 'cdk8s';
import { Mesh } from '../constructs';
import { addBookinfo, BOOKINFO_HOST } from '../examples/bookinfo/bookinfo';

const outdir = process.argv[2] ?? 'dist';
const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
// kind has no load-balancer provider: NodePort plus the cluster config's extraPortMappings.
const mesh = new Mesh(app, 'mesh', {
  gateway: {
    serviceType: 'NodePort',
    replicas: { min: 1, max: 2 },
    ports: [
      { name: 'http', port: 80, targetPort: 8080, nodePort: 30080 },
      { name: 'https', port: 443, targetPort: 8443, nodePort: 30443 },
    ],
  },
});
addBookinfo(mesh);
app.synth();
console.log(`synthesized ${app.charts.length} charts into ${outdir}/ (try: curl -H 'Host: ${BOOKINFO_HOST}' http://localhost:8080/productpage once deployed)`);
