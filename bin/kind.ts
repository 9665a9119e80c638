/** Synthesizes the bundled example for a local kind cluster into dist/ (`npm run synth`). */
import { BOOKINFO_HOST } from '../examples/bookinfo/bookinfo';
import { synthKindExample } from '../cli/kind/example';

const outdir = process.argv[2] ?? 'dist';
const app = synthKindExample(outdir, { dashboards: process.argv.includes('--dashboards') });
console.log(
  `synthesized ${app.charts.length} charts into ${outdir}/ (npm run kind:up runs them on kind; then curl -H 'Host: ${BOOKINFO_HOST}' http://127.0.0.1:8080/productpage)`,
);
