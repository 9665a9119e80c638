#!/usr/bin/env node
/**
 * `npm run chaos`: the chaos suite (test/chaos/) in its long form, one file at a time (the
 * scenarios measure latency and memory; run side by side they would measure each other), then
 * its table: scenario, requests, failed, p99, RSS before/after. `--docs` also writes the table into
 * docs/reliability.md between its markers. Extra arguments go to jest (e.g. a test file).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const args = process.argv.slice(2);
const docs = args.includes('--docs');
const jestArgs = args.filter((a) => a !== '--docs');
const report = join(mkdtempSync(join(tmpdir(), 'mast-chaos-')), 'rows.jsonl');
const run = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand', ...(jestArgs.length ? jestArgs : ['test/chaos'])],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MAST_CHAOS: process.env.MAST_CHAOS ?? 'long', MAST_CHAOS_REPORT: report },
  },
);
const rows = existsSync(report)
  ? readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
const rss = (r) => (r.rss?.length ? r.rss.map((m) => `${m.process}: ${m.beforeMb} → ${m.afterMb} MB`).join('; ') : '–');
const table = [
  '| scenario | duration | requests | failed | p99 | RSS before → after |',
  '|---|---:|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.durationS === undefined ? '–' : `${r.durationS} s`} | ${r.requests} | ${r.failed} | ${r.p99Ms === undefined ? '–' : `${r.p99Ms} ms`} | ${rss(r)} |`,
  ),
].join('\n');
console.log(`\n${table}\n`);
if (docs) {
  const page = join(root, 'docs', 'reliability.md');
  const text = readFileSync(page, 'utf8');
  const begin = '<!-- chaos-table:begin -->';
  const end = '<!-- chaos-table:end -->';
  const stamp = `Last run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, \`npm run chaos\`${run.status === 0 ? '' : ' (some scenarios FAILED)'}.`;
  writeFileSync(page, text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), `${begin}\n${stamp}\n\n${table}\n${end}`));
}
process.exit(run.status ?? 1);
