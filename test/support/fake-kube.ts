/**
 * A small Kubernetes API server for tests, on loopback: cluster-wide list and watch of any
 * resource path (with resourceVersions, a bounded event history, 410 Gone once compacted, and
 * the `timeoutSeconds` watch limit), Events and Leases. Faults on demand: drop every watch, stop
 * answering entirely, or accept watches and then say nothing (a dead connection).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

interface Event {
  rv: number;
  path: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

/** The request's `fieldSelector`, as the API server applies it: `metadata.name=` and `metadata.namespace=` terms (any other selects nothing). */
function selector(url: URL): (o: Obj) => boolean {
  const terms = (url.searchParams.get('fieldSelector') ?? '').split(',').filter(Boolean);
  return (o) =>
    terms.every((t) => {
      const [field, value] = t.split('=');
      if (field === 'metadata.name') return o.metadata.name === value;
      if (field === 'metadata.namespace') return o.metadata.namespace === value;
      return false;
    });
}

export class FakeKube {
  port = 0;
  rv = 1;
  /** `list` and `watch` requests per resource path. */
  readonly requests: Array<{ verb: 'list' | 'watch'; path: string }> = [];
  /** List and watch requests that gave a `fieldSelector`, with it (lists apply `metadata.name=<name>`; watches send every event). */
  readonly fieldSelectors: Array<{ verb: 'list' | 'watch'; path: string; fieldSelector: string }> = [];
  readonly events: Obj[] = [];
  /** Watches answered 410 Gone, by path. */
  readonly gone: string[] = [];
  readonly leases = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  /** ConfigMaps by namespace/name, and every write to them (create, replace). */
  readonly configMaps = new Map<string, Obj & { data?: Record<string, string> }>();
  readonly configMapWrites: Array<{ verb: 'create' | 'replace'; key: string }> = [];
  /** Service-account tokens TokenReview knows: token → username. */
  readonly tokens = new Map<string, string>();
  /** Resource paths answering 404 (a CRD that is not installed). */
  readonly notFound = new Set<string>();
  /** Accept watches but never write to or close them. */
  hang = false;
  /** Hold new watch requests until resume(). */
  private held: Array<() => void> | undefined;
  private objects = new Map<string, Map<string, Obj>>();
  private history: Event[] = [];
  private oldest = 1;
  private watchers = new Set<{ path: string; res: http.ServerResponse; selects: (o: Obj) => boolean }>();
  private sockets = new Set<Socket>();
  private server?: http.Server;

  async start(port = 0): Promise<number> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => (this.sockets.add(s), s.on('close', () => this.sockets.delete(s))));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    return (this.port = (this.server.address() as AddressInfo).port);
  }

  /** Stops answering: every connection is cut. */
  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  kubeconfig(): string {
    return `apiVersion: v1
kind: Config
clusters: [{ name: fake, cluster: { server: "http://127.0.0.1:${this.port}", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: test } }]
contexts: [{ name: c, context: { cluster: fake, user: u } }]
current-context: c
`;
  }

  put(path: string, object: Obj): void {
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const items = this.objects.get(path) ?? new Map<string, Obj>();
    this.objects.set(path, items);
    const type = items.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = {
      ...object,
      metadata: { ...object.metadata, uid: items.get(key)?.metadata.uid ?? `uid-${this.rv}`, resourceVersion: String(++this.rv) },
    };
    items.set(key, stored);
    this.record({ rv: this.rv, path, type, object: stored });
  }

  remove(path: string, namespace: string | undefined, name: string): void {
    const items = this.objects.get(path);
    const old = items?.get(`${namespace ?? ''}/${name}`);
    if (!items || !old) return;
    items.delete(`${namespace ?? ''}/${name}`);
    this.record({
      rv: ++this.rv,
      path,
      type: 'DELETED',
      object: { ...old, metadata: { ...old.metadata, resourceVersion: String(this.rv) } },
    });
  }

  /** Forgets the event history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.oldest = this.rv + 1;
  }

  /** New watch requests wait unanswered until resume(): time to change things behind a client's back. */
  holdWatches(): void {
    this.held = [];
  }

  resume(): void {
    const held = this.held ?? [];
    this.held = undefined;
    held.forEach((answer) => answer());
  }

  /** Watches of one resource path open now (answered, not yet ended). */
  openWatches(path: string): number {
    let n = 0;
    for (const w of this.watchers) if (w.path === path) n++;
    return n;
  }

  /** Ends every open watch (as an API server restart or a load balancer would). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  private record(e: Event): void {
    this.history.push(e);
    for (const w of this.watchers)
      if (w.path === e.path && w.selects(e.object) && !this.hang) w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const notFound = () => send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const event = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(url.pathname);
      if (event && req.method === 'POST') {
        const e = JSON.parse(body) as Obj;
        this.events.push(e);
        return send(201, { ...e, metadata: { ...e.metadata, name: `${e.metadata.name ?? 'e'}${this.events.length}` } });
      }
      if (url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews' && req.method === 'POST') {
        const review = JSON.parse(body) as { spec: { token: string } };
        const username = this.tokens.get(review.spec.token);
        return send(201, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: review.spec,
          status: username ? { authenticated: true, user: { username } } : { authenticated: false, error: 'invalid bearer token' },
        });
      }
      const secret = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(url.pathname);
      if (secret) {
        if (req.method === 'GET')
          return this.secrets.has(`${secret[1]}/${secret[2]}`) ? send(200, this.secrets.get(`${secret[1]}/${secret[2]}`)) : notFound();
        const s = JSON.parse(body) as Obj;
        const key = `${secret[1]}/${s.metadata.name}`;
        if (this.secrets.has(key)) return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
        this.secrets.set(key, s);
        return send(201, s);
      }
      const configMap = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/.exec(url.pathname);
      // One ConfigMap by name (the root certificate's writes); a namespace's list and watch are any resource path's.
      if (configMap && (configMap[2] || req.method !== 'GET'))
        return this.configMap(req.method!, configMap[1], configMap[2], body, send, notFound);
      const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(url.pathname);
      if (lease) return this.lease(req.method!, `${lease[1]}/${lease[2] ?? ''}`, body, send, notFound);
      if (req.method !== 'GET') return notFound();
      const path = url.pathname;
      if (this.notFound.has(path)) return notFound();
      const fieldSelector = url.searchParams.get('fieldSelector');
      const verb = url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
      if (fieldSelector) this.fieldSelectors.push({ verb, path, fieldSelector });
      if (verb === 'list') {
        this.requests.push({ verb: 'list', path });
        return send(200, {
          kind: 'List',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.rv) },
          items: [...(this.objects.get(path)?.values() ?? [])].filter(selector(url)),
        });
      }
      if (this.held) return void this.held.push(() => this.watch(url, path, res));
      this.watch(url, path, res);
    });
  }

  /** get, create (409 if it exists), replace (409 on a stale resourceVersion), as the API server does. */
  private configMap(
    method: string,
    namespace: string,
    name: string | undefined,
    body: string,
    send: (status: number, body: unknown) => void,
    notFound: () => void,
  ): void {
    const conflict = (reason: string) => send(409, { kind: 'Status', code: 409, reason });
    if (method === 'GET')
      return name && this.configMaps.has(`${namespace}/${name}`) ? send(200, this.configMaps.get(`${namespace}/${name}`)) : notFound();
    const cm = JSON.parse(body) as Obj & { data?: Record<string, string> };
    const key = `${namespace}/${cm.metadata.name}`;
    const old = this.configMaps.get(key);
    if (method === 'POST' && old) return conflict('AlreadyExists');
    if (method === 'PUT' && !old) return notFound();
    if (method === 'PUT' && cm.metadata.resourceVersion !== old!.metadata.resourceVersion) return conflict('Conflict');
    if (method !== 'POST' && method !== 'PUT') return notFound();
    const stored = { ...cm, metadata: { ...cm.metadata, namespace, resourceVersion: String(++this.rv) } };
    this.configMaps.set(key, stored);
    this.configMapWrites.push({ verb: method === 'POST' ? 'create' : 'replace', key });
    send(method === 'POST' ? 201 : 200, stored);
  }

  private watch(url: URL, path: string, res: http.ServerResponse): void {
    {
      this.requests.push({ verb: 'watch', path });
      const from = Number(url.searchParams.get('resourceVersion') ?? 0);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      if (this.hang) return void res.flushHeaders();
      if (from + 1 < this.oldest) {
        this.gone.push(path);
        res.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${from}` } })}\n`,
        );
        return;
      }
      const selects = selector(url);
      for (const e of this.history)
        if (e.path === path && e.rv > from && selects(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      const watcher = { path, res, selects };
      this.watchers.add(watcher);
      const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
      const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
      res.on('close', () => (clearTimeout(timer), this.watchers.delete(watcher)));
    }
  }

  private lease(method: string, key: string, body: string, send: (s: number, b: unknown) => void, notFound: () => void): void {
    const current = this.leases.get(key);
    if (method === 'GET') return current ? send(200, current) : notFound();
    const incoming = JSON.parse(body) as Obj;
    if (method === 'POST') {
      const k = `${key}${incoming.metadata.name}`;
      if (this.leases.has(k)) return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
      const stored = { ...incoming, metadata: { ...incoming.metadata, resourceVersion: String(++this.rv) } };
      this.leases.set(k, stored);
      return send(201, stored);
    }
    if (method === 'PUT') {
      if (!current) return notFound();
      if (incoming.metadata.resourceVersion !== current.metadata.resourceVersion)
        return send(409, { kind: 'Status', code: 409, reason: 'Conflict' });
      const stored = { ...incoming, metadata: { ...incoming.metadata, resourceVersion: String(++this.rv) } };
      this.leases.set(key, stored);
      return send(200, stored);
    }
    notFound();
  }
}
