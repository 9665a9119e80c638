/**
 * Kept only so branches written before the move (h2, examples) still resolve `test/runtime/support`:
 * the proxy test harness lives in test/support/proxy.ts. Remove once no file imports this path.
 */
export * from '../support/proxy';
