/**
 * The admin port's `/memory`, as Envoy's: where the process's memory is, in bytes, as strings.
 * Envoy reports its allocator (tcmalloc); a Node process has V8's heap, memory held outside it
 * for JavaScript objects (`external`: buffers, TLS and HTTP/2 state), and what the kernel counts
 * as private (`Anonymous` in /proc/self/smaps_rollup: what each added proxy costs a node).
 */
import { readFileSync } from 'node:fs';
import type * as V8 from 'node:v8';

/** `node:v8`, loaded when /memory is first asked for: it brings Node's heap-snapshot modules along (≈ 0.25 MB of heap). */
const v8 = (): typeof V8 => require('node:v8') as typeof V8;

/** Anonymous memory in bytes from smaps_rollup, or undefined where /proc is not Linux's. */
function anonymousBytes(): number | undefined {
  try {
    const kb = /^Anonymous:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function memoryReport(): Record<string, string> {
  const m = process.memoryUsage();
  const { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics } = v8();
  const heap = getHeapStatistics();
  // The young generation (new objects, and new ones too large for it): its size under load is set by --max-semi-space-size.
  const young = getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
    .reduce((sum, s) => sum + s.physical_space_size, 0);
  const code = getHeapCodeStatistics();
  const anonymous = anonymousBytes();
  return {
    // Envoy's names, with the nearest meaning a Node process has.
    allocated: String(m.heapUsed + m.external),
    heap_size: String(m.heapTotal),
    total_physical_bytes: String(m.rss),
    // Node's own figures.
    v8_heap_used: String(m.heapUsed),
    v8_heap_committed: String(heap.total_physical_size),
    v8_malloced: String(heap.malloced_memory),
    v8_code: String(code.code_and_metadata_size + code.bytecode_and_metadata_size),
    v8_young_generation: String(young),
    external: String(m.external),
    array_buffers: String(m.arrayBuffers),
    ...(anonymous === undefined ? {} : { anonymous: String(anonymous) }),
  };
}
