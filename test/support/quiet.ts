/**
 * The two waits a test may make without an event to wait for, named so that each one reads as
 * deliberate: `expectQuietFor` (something must NOT happen within a window) and `elapse` (time passing
 * is the scenario itself: a rate, a timeline). Everything else waits for its event with `until`
 * (poll.ts). Absence has no event: a bounded window is the only way to observe it, and the window
 * is the property under test, so it is a number the test states, not a sleep hoping for the best.
 */

/**
 * Watches `happened` for `ms` and fails as soon as it holds, naming `what` happened; resolves when
 * the window passed quietly. Sampled every 20 ms (as `until` polls), and once more at the end.
 */
export async function expectQuietFor(ms: number, what: string, happened: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await happened()) throw new Error(`${what} happened within the ${ms} ms that had to stay quiet`);
    const left = deadline - Date.now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(20, left)));
  }
}

/**
 * Lets `ms` pass because the passing of time is what the test does (an edit every second under
 * load, requests paced at a rate); `why` is said at the call so the reader sees it is not a wait for
 * something that has an event.
 */
export function elapse(ms: number, _why: string): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
