/**
 * How long the chaos scenarios run: short in `npm test` (the whole suite within a few minutes on
 * two cores), long under `npm run chaos` (scripts/chaos.mjs sets MAST_CHAOS=long).
 */
export const LONG = process.env.MAST_CHAOS === 'long';

/** `short` ms in `npm test`, `long` ms under `npm run chaos`. */
export const span = (short: number, long: number): number => (LONG ? long : short);

/** A jest timeout for a scenario of `ms`, with room for setup and teardown. */
export const timeoutFor = (ms: number): number => ms + 60_000;
