/**
 * An idle upstream HTTP/2 session the pool closes takes no new stream. Node keeps a closing
 * session open (closed, not destroyed) while a stream it holds has not let go; a request given
 * that session threw and was tried again, or answered 503 without retries. The sessions here are
 * stand-ins made by a stubbed `http2.connect` (no socket opens), their idle timer fired by hand.
 */
import { EventEmitter } from 'node:events';
import type { ClusterConfig } from '../../../../runtime/contract/proxy-config';
import { H2Pool, type SessionGrant } from '../../../../runtime/proxy/h2/upstream-pool';
import { type Cluster, Endpoint } from '../../../../runtime/proxy/upstream/cluster';

/** A ClientHttp2Session's stand-in: `close()` leaves it closed but not destroyed, as Node does while a stream lingers. */
class StandInSession extends EventEmitter {
  closed = false;
  destroyed = false;
  idle?: () => void;
  setTimeout(_ms: number, onIdle: () => void): void {
    this.idle = onIdle;
  }
  close(): void {
    this.closed = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const made: StandInSession[] = [];
const http2: Record<string, unknown> = require('node:http2');
const realConnect = http2.connect;
// The pool's connect and idle timers are the fake clock's: none outlives the file.
beforeAll(() => {
  jest.useFakeTimers();
  http2.connect = () => {
    const s = new StandInSession();
    made.push(s);
    return s;
  };
});
afterAll(() => {
  jest.useRealTimers();
  http2.connect = realConnect;
});

function pool(): { pool: H2Pool; endpoint: Endpoint } {
  const endpoint = new Endpoint({ address: '127.0.0.1', port: 1 } as never);
  const config = { name: 'c', endpoints: [], idleTimeoutMs: 1000, connectTimeoutMs: 1000 } as unknown as ClusterConfig;
  const cluster = { config, endpoints: [endpoint], connect: () => undefined } as unknown as Cluster;
  return { pool: new H2Pool(cluster, endpoint), endpoint };
}

const acquired = (p: H2Pool): SessionGrant => {
  let grant: SessionGrant | undefined;
  p.acquire((g) => (grant = g));
  if (!grant) throw new Error('no session granted at once');
  return grant;
};

test('a session closed for being idle is out of the pool: the next request opens a new one', () => {
  const { pool: p, endpoint } = pool();
  const first = acquired(p);
  if (typeof first === 'string') throw new Error(first);
  p.began(first);
  p.ended(first);
  expect(endpoint.connections).toBe(1);
  // Idle long enough: the pool closes it; Node has not destroyed it yet.
  made[0].idle!();
  expect(made[0].closed).toBe(true);
  expect(made[0].destroyed).toBe(false);
  expect(endpoint.connections).toBe(0);
  const next = acquired(p);
  expect(next).not.toBe(first);
  expect(typeof next !== 'string' && next.session).toBe(made[1]);
});

test('a session with a stream in flight is not closed when its idle timer fires', () => {
  const { pool: p } = pool();
  const first = acquired(p);
  if (typeof first === 'string') throw new Error(first);
  p.began(first);
  made[made.length - 1].idle!();
  expect(first.session.closed).toBe(false);
  expect(acquired(p)).toBe(first);
});
