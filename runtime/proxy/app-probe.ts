/**
 * The app's kubelet probes, sent by the sidecar. Injection (constructs/sidecar.ts) rewrites an
 * app container's `httpGet`, `tcpSocket` and `grpc` probes to the proxy's status port at
 * `/app-health/<container>/<livez|readyz|startupz>` and gives the proxy the original probes in
 * `MAST_APP_PROBERS` (JSON, keyed by that path). The kubelet's plain-text probe would otherwise be
 * captured into the inbound listener and refused there under STRICT mTLS; the proxy runs as the
 * uid that capture skips, so its probe reaches the app directly. Istio does the same with
 * `ISTIO_KUBE_APP_PROBERS`.
 */
import * as net from 'node:net';
import type * as Http2 from 'node:http2';
import { tlsModule } from './lazy-tls';
import { failureReason } from './failure-reason';

export const APP_PROBERS_ENV = 'MAST_APP_PROBERS';
export const APP_HEALTH_PATH = /^\/app-health\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/(livez|readyz|startupz)$/;

export interface HttpGetProbe {
  readonly path: string;
  readonly port: number;
  readonly host?: string;
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly httpHeaders: ReadonlyArray<{ readonly name: string; readonly value: string }>;
}

export interface AppProber {
  readonly httpGet?: HttpGetProbe;
  readonly tcpSocket?: { readonly port: number; readonly host?: string };
  /** The standard gRPC health check (grpc.health.v1), over plain-text HTTP/2 as the kubelet sends it. */
  readonly grpc?: { readonly port: number; readonly service: string; readonly host?: string };
  /** Kubernetes' default: 1 s. */
  readonly timeoutSeconds: number;
}

export type AppProbers = ReadonlyMap<string, AppProber>;

/** What the status port answers: the app's own status when it answered, 503 when it could not be reached in time. */
export interface ProbeResult {
  readonly status: number;
  readonly body: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PRINTABLE = /^[\t\x20-\x7e\x80-\xff]*$/;
const PATH = /^\/[\x21-\x7e]*$/;

/** Parses and checks `MAST_APP_PROBERS`; an error names the path, the field and the value. */
export function parseAppProbers(text: string | undefined): AppProbers {
  const probers = new Map<string, AppProber>();
  if (!text) return probers;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${APP_PROBERS_ENV} is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw new Error(`${APP_PROBERS_ENV} must be a JSON object keyed by /app-health/<container>/<livez|readyz|startupz>`);
  for (const [key, value] of Object.entries(raw)) {
    const bad = (field: string, got: unknown, want: string) =>
      new Error(`${APP_PROBERS_ENV} "${key}"${field ? `.${field}` : ''}: ${JSON.stringify(got)} is not ${want}`);
    if (!APP_HEALTH_PATH.test(key)) throw bad('', key, 'a path /app-health/<container>/<livez|readyz|startupz>');
    if (!isObject(value)) throw bad('', value, 'an object with one of httpGet, tcpSocket or grpc');
    const timeoutSeconds = value.timeoutSeconds ?? 1;
    if (typeof timeoutSeconds !== 'number' || !(timeoutSeconds > 0 && timeoutSeconds <= 3600))
      throw bad('timeoutSeconds', value.timeoutSeconds, 'a number of seconds above 0, at most 3600');
    const port = (field: string, p: unknown) => {
      if (!(Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535))
        throw bad(field, p, 'a port number 1-65535 (named ports are resolved at injection)');
      return p as number;
    };
    const host = (field: string, h: unknown) => {
      if (h !== undefined && (typeof h !== 'string' || !/^[0-9A-Za-z.:-]+$/.test(h))) throw bad(field, h, 'a host name or address');
      return h === undefined || h === '' ? {} : { host: h as string };
    };
    const handlers = ['httpGet', 'tcpSocket', 'grpc'].filter((h) => value[h] !== undefined);
    if (handlers.length !== 1 || !isObject(value[handlers[0]])) throw bad('', value, 'an object with one of httpGet, tcpSocket or grpc');
    if (isObject(value.httpGet)) {
      const g = value.httpGet;
      const path = g.path ?? '/';
      if (typeof path !== 'string' || !PATH.test(path))
        throw bad('httpGet.path', g.path, 'a path starting with / without spaces or control characters');
      const scheme = g.scheme ?? 'HTTP';
      if (scheme !== 'HTTP' && scheme !== 'HTTPS') throw bad('httpGet.scheme', g.scheme, 'HTTP or HTTPS');
      const headers = g.httpHeaders ?? [];
      if (!Array.isArray(headers)) throw bad('httpGet.httpHeaders', headers, 'a list of { name, value }');
      headers.forEach((h: unknown, i) => {
        if (!isObject(h) || typeof h.name !== 'string' || !TOKEN.test(h.name))
          throw bad(`httpGet.httpHeaders[${i}].name`, isObject(h) ? h.name : h, 'a header name');
        if (typeof h.value !== 'string' || !PRINTABLE.test(h.value))
          throw bad(`httpGet.httpHeaders[${i}].value`, h.value, 'a header value without line breaks');
      });
      probers.set(key, {
        httpGet: {
          path,
          port: port('httpGet.port', g.port),
          ...host('httpGet.host', g.host),
          scheme,
          httpHeaders: headers as HttpGetProbe['httpHeaders'],
        },
        timeoutSeconds,
      });
    } else if (isObject(value.tcpSocket)) {
      probers.set(key, {
        tcpSocket: { port: port('tcpSocket.port', value.tcpSocket.port), ...host('tcpSocket.host', value.tcpSocket.host) },
        timeoutSeconds,
      });
    } else {
      const service = value.grpc.service ?? '';
      if (typeof service !== 'string' || !PRINTABLE.test(service)) throw bad('grpc.service', value.grpc.service, 'a service name');
      probers.set(key, {
        grpc: { port: port('grpc.port', value.grpc.port), service, ...host('grpc.host', value.grpc.host) },
        timeoutSeconds,
      });
    }
  }
  return probers;
}

/** host:port, an IPv6 address in brackets. */
const authority = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

// biome-ignore lint/suspicious/noExplicitAny: probe handlers of a pod spec, read field by field below
function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Runs one probe against the app, bounded by its timeout. Never rejects. */
export function probeApp(prober: AppProber): Promise<ProbeResult> {
  const ms = prober.timeoutSeconds * 1000;
  if (prober.tcpSocket) {
    const { port, host = '127.0.0.1' } = prober.tcpSocket;
    return attempt(ms, `tcp ${host}:${port}`, (done) =>
      net.connect({ port, host }, () => done({ status: 200, body: `connected to ${host}:${port}\n` })),
    );
  }
  if (prober.grpc) return grpcHealth(prober.grpc, ms);
  const g = prober.httpGet!;
  const host = g.host ?? '127.0.0.1';
  const names = new Set(g.httpHeaders.map((h) => h.name.toLowerCase()));
  const lines = [
    `GET ${g.path} HTTP/1.1`,
    ...(names.has('host') ? [] : [`Host: ${authority(host, g.port)}`]),
    ...(names.has('user-agent') ? [] : ['User-Agent: kube-probe/mast']),
    ...(names.has('accept') ? [] : ['Accept: */*']),
    ...g.httpHeaders.map((h) => `${h.name}: ${h.value}`),
    'Connection: close',
  ];
  const request = `${lines.join('\r\n')}\r\n\r\n`;
  return attempt(ms, `${g.scheme.toLowerCase()}://${host}:${g.port}${g.path}`, (done, fail) => {
    const socket: net.Socket =
      g.scheme === 'HTTPS'
        ? tlsModule().connect({ port: g.port, host, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) }, () =>
            socket.write(request),
          )
        : net.connect({ port: g.port, host }, () => socket.write(request));
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      head += chunk;
      const eol = head.indexOf('\r\n');
      if (eol < 0 && head.length < 1024) return;
      const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(eol < 0 ? head : head.slice(0, eol));
      if (!m) return fail('the app did not answer HTTP');
      const code = Number(m[1]);
      // The kubelet counts 200-399 as success and anything else as failure; the app's code is kept.
      done({ status: code >= 300 && code < 400 ? 200 : code, body: `the app answered ${code}\n` });
    });
    socket.on('end', () => fail('the app closed the connection without an answer'));
    return socket;
  });
}

/** The health states of grpc.health.v1.HealthCheckResponse, by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/**
 * grpc.health.v1.Health/Check: the request is one length-prefixed message with the service name
 * as field 1; the answer's field 1 is the status. `node:http2` loads with the first gRPC probe.
 */
function grpcHealth(probe: NonNullable<AppProber['grpc']>, ms: number): Promise<ProbeResult> {
  const host = probe.host ?? '127.0.0.1';
  const target = `grpc ${host}:${probe.port}${probe.service ? ` service "${probe.service}"` : ''}`;
  return attempt(ms, target, (done, fail) => {
    const http2 = require('node:http2') as typeof Http2;
    const session = http2.connect(`http://${authority(host, probe.port)}`);
    const name = Buffer.from(probe.service, 'utf8');
    const message = name.length ? Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]) : Buffer.alloc(0);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    const call = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'kube-probe/mast',
    });
    call.on('error', (e) => fail(failureReason(e)));
    call.end(Buffer.concat([prefix, message]));
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    call.on('response', (headers) => (grpcStatus = headers['grpc-status'] as string | undefined));
    call.on('trailers', (trailers) => (grpcStatus = trailers['grpc-status'] as string | undefined));
    call.on('data', (chunk: Buffer) => chunks.push(chunk));
    call.on('end', () => {
      if (grpcStatus !== '0') return fail(`the app answered grpc-status ${grpcStatus ?? '(none)'}`);
      const status = SERVING_STATUS[healthStatus(Buffer.concat(chunks))] ?? 'an unknown status';
      if (status === 'SERVING') done({ status: 200, body: 'the app is SERVING\n' });
      else fail(`the app is ${status}`);
    });
    return session;
  });
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  for (; n > 0x7f; n >>>= 7) bytes.push((n & 0x7f) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
}

/** Field 1 (a varint) of the first message in a gRPC response body; 0 (UNKNOWN) when absent, as protobuf defaults it. */
function healthStatus(body: Buffer): number {
  let i = 5;
  const end = Math.min(body.length, 5 + (body.length >= 5 ? body.readUInt32BE(1) : 0));
  const read = () => {
    let value = 0;
    for (let shift = 0; i < end && shift < 35; shift += 7) {
      const b = body[i++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    return value;
  };
  while (i < end) {
    const tag = read();
    if (tag === 0x08) return read();
    const wire = tag & 7;
    if (wire === 0) read();
    else if (wire === 2) i += read();
    else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else return 0;
  }
  return 0;
}

type Start = (
  done: (r: ProbeResult) => void,
  fail: (why: string) => void,
) => { destroy(): void; on(event: 'error', listener: (e: Error) => void): unknown };

function attempt(ms: number, target: string, start: Start): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let socket: ReturnType<Start> | undefined;
    const finish = (r: ProbeResult) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(r);
    };
    const fail = (why: string) => finish({ status: 503, body: `probe of ${target} failed: ${why}\n` });
    const timer = setTimeout(() => fail(`no answer within ${ms / 1000} s`), ms);
    socket = start(finish, fail);
    socket.on('error', (e) => fail(failureReason(e)));
  });
}
