/** Synthesizes the bundled example for a local kind cluster into dist/ (`npm run synth`; `--egress-gateway` adds one). */
import { BOOKINFO_HOST } from '../examples/bookinfo/bookinfo';
import { synthKindExample } from '../cli/kind/example';

const args = process.argv.slice(2);
const outdir = args.find((a) => !a.startsWith('--')) ?? 'dist';
const app = synthKindExample(outdir, { egressGateway: args.includes('--egress-gateway'), dashboards: args.includes('--dashboards') });
console.log(
  `synthesized ${app.charts.length} charts into ${outdir}/ (npm run kind:up runs them on kind; then curl -H 'Host: ${BOOKINFO_HOST}' http://127.0.0.1:8080/productpage)`,
);
