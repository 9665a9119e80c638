/**
 * The one polling helper of the tests: wait for the event a test is about (a count reached, a file
 * written, a process gone), bounded in time, instead of sleeping a fixed while and hoping.
 */

/**
 * Polls `check` until it gives a truthy value (returned), or fails after `ms` naming what it waited
 * for; `detail` adds what helps to read the failure (a process's log), read only when it fails.
 */
export async function until<T>(what: string, check: () => T | Promise<T>, ms = 5000, detail?: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Like until, for a test that asserts the outcome itself: true once `check` holds, false if it never did within `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
