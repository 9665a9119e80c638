/**
 * Attack: walking around path-based AuthorizationPolicies with paths that mean `/admin` to the
 * app but not to a proxy that compares raw strings. Raw request bytes as an attacker sends them;
 * the backend records every request line it receives, parsed leniently, and must see none of
 * them. Finding 2 of issue 19.
 */
import type { AuthzConfig } from '../../runtime/contract/authz';
import type { PathNormalization, ProxyConfig } from '../../runtime/contract/proxy-config';
import { cluster, config, forward, raw, stoppedAfterEach } from '../support/proxy';
import { lenientBackend, type LenientBackend } from './support';

const { proxyFor, stopAfter } = stoppedAfterEach();

async function setUp(authz: AuthzConfig, pathNormalization?: PathNormalization): Promise<{ port: number; app: LenientBackend }> {
  const app = await lenientBackend();
  stopAfter(() => app.close());
  const base = config([forward('app')], [cluster('app', [app.port])]);
  const cfg: ProxyConfig = { ...base, listeners: [{ ...base.listeners[0], authz }], ...(pathNormalization ? { pathNormalization } : {}) };
  const { port } = await proxyFor(cfg);
  return { port, app };
}

const DENY_ADMIN: AuthzConfig = { deny: [{ name: 'default/deny-admin[0]', to: [{ paths: ['/admin*'] }] }] };
const ALLOW_PUBLIC: AuthzConfig = { deny: [], allow: [{ name: 'default/allow-public[0]', to: [{ paths: ['/public/*'] }] }] };

const request = (target: string, method = 'GET', host = 'alpha.example.com') =>
  `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
const statusOf = (reply: string) => Number(reply.slice(9, 12));

const WALKS = [
  '/public/../admin',
  '/./admin',
  '/%61dmin',
  '/public/%2e%2e/admin',
  '/public/%2E%2E/admin',
  '/x/../admin',
  '/public/..\\admin',
  '/public/.%2e/admin',
  '/%2e/admin',
  '/admin/./',
  '/a/b/../../admin/users?x=1',
];

describe('path normalization (BASE, the default) in front of authorization', () => {
  test.each(WALKS)('DENY /admin*: %s is denied and never reaches the app', async (target) => {
    const { port, app } = await setUp(DENY_ADMIN);
    const reply = await raw(port, request(target), 2000);
    expect(statusOf(reply)).toBe(403);
    expect(app.lines()).toEqual([]);
  });

  test.each(WALKS)('ALLOW /public/* only: %s is denied and never reaches the app', async (target) => {
    const { port, app } = await setUp(ALLOW_PUBLIC);
    expect(statusOf(await raw(port, request(target), 2000))).toBe(403);
    expect(app.lines()).toEqual([]);
  });

  test('the normalized path is what goes upstream; the query is untouched', async () => {
    const { port, app } = await setUp(ALLOW_PUBLIC);
    expect(statusOf(await raw(port, request('/public/a/../%62ook?next=/x/../admin&q=%2e'), 2000))).toBe(200);
    expect(statusOf(await raw(port, request('/public/plain'), 2000))).toBe(200);
    expect(app.lines()).toEqual(['GET /public/book?next=/x/../admin&q=%2e HTTP/1.1', 'GET /public/plain HTTP/1.1']);
  });

  test('an escaped slash is kept as sent under BASE (Istio: KEEP_UNCHANGED), so it is not /public/ to an ALLOW rule', async () => {
    const { port, app } = await setUp(ALLOW_PUBLIC);
    expect(statusOf(await raw(port, request('/public%2F..%2Fadmin'), 2000))).toBe(403);
    expect(app.lines()).toEqual([]);
  });

  test.each([
    ['%00 in the path', request('/public/x%00.html'), 400],
    ['a #fragment in the target', request('/public/x#/../../admin'), 400],
    ['* with GET', request('*'), 400],
    ['a relative target', request('admin'), 400],
    ['a backslash target', request('\\admin'), 400],
    ['authority form (CONNECT: no route takes it, as Envoy under Istio)', request('alpha.example.com:80', 'CONNECT'), 404],
    ['a non-ASCII byte in the path', request('/public/caf\xe9/../../admin'), 400],
    ['a backslash in an absolute URL authority', request('http://alpha.example.com\\@evil/public/x'), 400],
    ['an absolute URL of another scheme', request('ftp://alpha.example.com/admin'), 400],
    ['userinfo in an absolute URL', request('http://user@alpha.example.com/public/x'), 400],
  ])('%s: refused, nothing reaches the app', async (_what, bytes, status) => {
    const { port, app } = await setUp(DENY_ADMIN);
    expect(statusOf(await raw(port, bytes, 2000))).toBe(status);
    expect(app.lines()).toEqual([]);
  });

  test('OPTIONS * is a request (not normalized, not refused)', async () => {
    const { port, app } = await setUp(DENY_ADMIN);
    expect(statusOf(await raw(port, request('*', 'OPTIONS'), 2000))).toBe(200);
    expect(app.lines()).toEqual(['OPTIONS * HTTP/1.1']);
  });

  test('absolute form without a Host header: 400 (RFC 9112 §3.2)', async () => {
    const { port, app } = await setUp(DENY_ADMIN);
    expect(statusOf(await raw(port, 'GET http://alpha.example.com/public/x HTTP/1.1\r\nConnection: close\r\n\r\n', 2000))).toBe(400);
    expect(app.lines()).toEqual([]);
  });

  test('absolute form: normalized, and its authority replaces Host', async () => {
    const { port, app } = await setUp(DENY_ADMIN);
    expect(statusOf(await raw(port, request('http://alpha.example.com/public/../admin', 'GET', 'evil.example.com'), 2000))).toBe(403);
    expect(statusOf(await raw(port, request('HTTP://alpha.example.com?x=1', 'GET', 'evil.example.com'), 2000))).toBe(200);
    expect(app.lines()).toEqual(['GET /?x=1 HTTP/1.1']);
    expect(app.seen[0].headers.host).toBe('alpha.example.com');
  });
});

describe('the other pathNormalization modes', () => {
  test('MERGE_SLASHES: //admin and /public/..//admin are /admin (slashes merged after the dot segments go, as Envoy)', async () => {
    const { port, app } = await setUp(DENY_ADMIN, 'MERGE_SLASHES');
    for (const t of ['//admin', '/public/..//admin', '///admin//users']) expect(statusOf(await raw(port, request(t), 2000))).toBe(403);
    expect(app.lines()).toEqual([]);
  });

  test('DECODE_AND_MERGE_SLASHES: escaped slashes and backslashes are path separators', async () => {
    const { port, app } = await setUp(DENY_ADMIN, 'DECODE_AND_MERGE_SLASHES');
    for (const t of ['/public%2F..%2Fadmin', '/public%5c..%5Cadmin', '/%2Fadmin'])
      expect(statusOf(await raw(port, request(t), 2000))).toBe(403);
    expect(app.lines()).toEqual([]);
  });

  test('NONE: the raw path (as Envoy with normalize_path off), so a DENY is walked around — the mode is opt-in only', async () => {
    const { port, app } = await setUp(DENY_ADMIN, 'NONE');
    expect(statusOf(await raw(port, request('/public/../admin'), 2000))).toBe(200);
    // %00 is refused under every mode (Istio: always 400).
    expect(statusOf(await raw(port, request('/public/x%00'), 2000))).toBe(400);
    expect(app.lines()).toEqual(['GET /public/../admin HTTP/1.1']);
  });
});
