/**
 * A scenario's row of the chaos table. Jest runs each file in its own worker, so rows go as JSON
 * lines to the file MAST_CHAOS_REPORT names (scripts/chaos.mjs prints them as a table); without
 * it (plain `npm test`) they are not written anywhere.
 */
import { appendFileSync } from 'node:fs';
import type { LoadResult } from './load';

export interface ChaosRow {
  readonly scenario: string;
  readonly requests: number;
  readonly failed: number;
  /** Latency of the 99th percentile request, ms (absent where a scenario sends too few to have one). */
  readonly p99Ms?: number;
  /** Processes whose memory is shown: VmRSS before and after the fault (MB). */
  readonly rss?: ReadonlyArray<{ readonly process: string; readonly beforeMb: number; readonly afterMb: number }>;
  readonly durationS?: number;
}

export function record(row: ChaosRow): void {
  const file = process.env.MAST_CHAOS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** The row of a scenario run under Load: its requests, failures and p99 from `result`, and the memory and duration given. */
export function loadRow(scenario: string, result: LoadResult, more: Pick<ChaosRow, 'rss' | 'durationS'>): ChaosRow {
  return { scenario, requests: result.requests, failed: result.failed.length, p99Ms: result.p99Ms, ...more };
}
