import { Deadline, Deadlines } from '../../../runtime/proxy/deadlines';

// The clock and the timers are jest's (performance.now() included): what fires when is exact, whatever the machine's load.
const advance = (ms: number) => jest.advanceTimersByTime(ms);

describe('deadlines', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('each fires once, not before its time, in the order set', () => {
    const deadlines = new Deadlines();
    const fired: Array<[string, number]> = [];
    const start = performance.now();
    const make = (name: string) => new Deadline(() => fired.push([name, performance.now() - start]));
    const [a, b, c] = [make('a'), make('b'), make('c')];
    deadlines.set(a, 30);
    advance(10);
    const setLater = performance.now() - start;
    deadlines.set(b, 30);
    deadlines.set(c, 5);
    advance(120);
    expect(fired.map(([n]) => n)).toEqual(['c', 'a', 'b']);
    const at = Object.fromEntries(fired);
    expect(at.c).toBeGreaterThanOrEqual(setLater + 5);
    expect(at.a).toBeGreaterThanOrEqual(30);
    expect(at.b).toBeGreaterThanOrEqual(setLater + 30);
    expect([a, b, c].some((d) => d.pending)).toBe(false);
  });

  test('a cancelled one never fires, wherever it stood in its list', () => {
    const deadlines = new Deadlines();
    const fired: string[] = [];
    const ds = ['first', 'middle', 'last', 'kept'].map((n) => [n, new Deadline(() => fired.push(n))] as const);
    for (const [, d] of ds) deadlines.set(d, 20);
    deadlines.cancel(ds[0][1]);
    deadlines.cancel(ds[1][1]);
    deadlines.cancel(ds[2][1]);
    deadlines.cancel(ds[2][1]);
    advance(60);
    expect(fired).toEqual(['kept']);
  });

  test('set again, it moves to its new time; one cancelled from inside another fire does not fire', () => {
    const deadlines = new Deadlines();
    const fired: string[] = [];
    const later = new Deadline(() => fired.push('later'));
    const victim = new Deadline(() => fired.push('victim'));
    const killer = new Deadline(() => {
      fired.push('killer');
      deadlines.cancel(victim);
    });
    deadlines.set(later, 10);
    deadlines.set(killer, 15);
    deadlines.set(victim, 15);
    deadlines.set(later, 40);
    advance(25);
    expect(fired).toEqual(['killer']);
    advance(50);
    expect(fired).toEqual(['killer', 'later']);
  });

  test('a list emptied and filled again still fires', () => {
    const deadlines = new Deadlines();
    let n = 0;
    const d = new Deadline(() => n++);
    deadlines.set(d, 5);
    advance(30);
    deadlines.set(d, 5);
    advance(30);
    expect(n).toBe(2);
  });

  test('cancelled ones are dropped at once, not held until their time: requests served with a long timeout leave the lane empty', () => {
    const deadlines = new Deadlines();
    let fired = 0;
    // As the request path: each request sets its route's 10-minute timeout and cancels it when it ends,
    // a few still open at any time; a cancelled entry must not wait in the lane for its 10 minutes.
    const open: Deadline[] = [];
    for (let i = 0; i < 50_000; i++) {
      const d = new Deadline(() => fired++);
      deadlines.set(d, 600_000);
      open.push(d);
      if (open.length > 50) deadlines.cancel(open.shift()!);
      if (i % 1000 === 0) {
        advance(1);
        expect(deadlines.held()).toBeLessThanOrEqual(51);
      }
    }
    for (const d of open) deadlines.cancel(d);
    expect(deadlines.held()).toBe(0);
    advance(700_000);
    expect(fired).toBe(0);
    // The lane still works after all that: one set now fires at its time.
    const last = new Deadline(() => fired++);
    deadlines.set(last, 600_000);
    expect(deadlines.held()).toBe(1);
    advance(600_000);
    expect([fired, deadlines.held()]).toEqual([1, 0]);
  });
});
