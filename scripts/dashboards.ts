/** Writes mast's Grafana dashboards (api/dashboards/) to dashboards/*.json: `npm run dashboards`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardText, grafanaDashboards } from '../api/dashboards';

const dir = join(__dirname, '..', 'dashboards');
mkdirSync(dir, { recursive: true });
const files = grafanaDashboards();
for (const [name, model] of Object.entries(files)) writeFileSync(join(dir, name), dashboardText(model));
console.log(`wrote ${Object.keys(files).join(', ')} to ${dir}`);
