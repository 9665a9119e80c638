/**
 * Request timeouts without a Node timer per request. Timeouts of one duration fall due in the
 * order they were set, so each duration keeps a plain linked list and one timer armed for its
 * head: setting and cancelling a timeout are a few pointer moves (a Node timer is an object
 * of its own, and an emptied list of Node's re-arms the loop's timer on the next request).
 */
export class Deadline {
  /** When it falls due (performance.now() ms); 0 while not set. */
  due = 0;
  prev: Deadline | null = null;
  next: Deadline | null = null;
  lane: Lane | null = null;
  constructor(readonly fire: () => void) {}

  get pending(): boolean {
    return this.lane !== null;
  }
}

class Lane {
  head: Deadline | null = null;
  tail: Deadline | null = null;
  timer: NodeJS.Timeout | undefined = undefined;
}

export class Deadlines {
  private readonly lanes = new Map<number, Lane>();

  /** (Re)starts `d`: it fires `ms` from `now` (performance.now(), if the caller has it) unless cancelled. */
  set(d: Deadline, ms: number, now = performance.now()): void {
    if (d.lane) this.cancel(d);
    let lane = this.lanes.get(ms);
    if (!lane) this.lanes.set(ms, (lane = new Lane()));
    d.due = now + ms;
    d.lane = lane;
    d.prev = lane.tail;
    if (lane.tail) lane.tail.next = d;
    else lane.head = d;
    lane.tail = d;
    if (!lane.timer) this.arm(lane, ms);
  }

  /** How many are set and not yet fired or cancelled, over every lane (walks them: for tests and diagnostics). */
  held(): number {
    let n = 0;
    for (const lane of this.lanes.values()) for (let d = lane.head; d; d = d.next) n++;
    return n;
  }

  cancel(d: Deadline): void {
    const lane = d.lane;
    if (!lane) return;
    if (d.prev) d.prev.next = d.next;
    else lane.head = d.next;
    if (d.next) d.next.prev = d.prev;
    else lane.tail = d.prev;
    d.prev = d.next = d.lane = null;
    d.due = 0;
  }

  private arm(lane: Lane, ms: number): void {
    lane.timer = setTimeout(() => this.expire(lane), Math.max(1, Math.ceil(ms)));
    lane.timer.unref();
  }

  /** Fires what is due; the lane's timer is armed again for the next one, if any. */
  private expire(lane: Lane): void {
    lane.timer = undefined;
    const now = performance.now();
    for (let d = lane.head; d && d.due <= now; d = lane.head) {
      this.cancel(d);
      d.fire();
    }
    if (lane.head) this.arm(lane, lane.head.due - now);
  }
}

/** The request path's: its route and per-try timeouts of one duration share a lane (and a timer). */
export const requestDeadlines = new Deadlines();
