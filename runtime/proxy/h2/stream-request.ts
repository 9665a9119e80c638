/**
 * An HTTP/2 stream's request as the protocol-free layers read it (`RequestInfo`): method, the
 * `:path` normalized as an HTTP/1.1 target is, host and port from `:authority`, the headers, and
 * what the connection says of the client (its address, its verified certificate).
 */
import { originalClient } from '../http/forwarded-for';
import type { IncomingHttpHeaders } from 'node:http2';
import type { X509Certificate } from 'node:crypto';
import type { PathNormalization } from '../../contract/proxy-config';
import { HttpError } from '../http/bytes';
import { normalizePath } from '../http/normalize-path';
import type { ListenerRuntime } from '../listeners';
import type { RequestInfo } from '../request/context';

/** What every stream of one connection shares: where it came in, and who the client is. */
export interface H2Connection {
  readonly listener: ListenerRuntime;
  readonly scheme: 'http' | 'https';
  /** The TLS or TCP socket the session runs on (XFCC reads our own certificate from it). */
  readonly socket: object;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly peerAddress: string;
  readonly peer?: {
    readonly certificate?: X509Certificate;
    readonly principal?: string;
    readonly namespace?: string;
  };
  readonly originalPort?: number;
  readonly originalAddress?: string;
  /** The terminated TLS server (a gateway's, picked by SNI) whose routes its streams take. */
  readonly server?: string;
  /** A stream of the connection ended; `premature`: the client reset it before its response began (server.ts counts them). */
  streamEnded?(premature: boolean): void;
}

export class StreamRequest implements RequestInfo {
  readonly method: string;
  /** The `:path` as received. */
  readonly rawTarget: string;
  readonly target: string;
  readonly authority: string;
  readonly host: string;
  readonly port: number;

  /**
   * Throws an HttpError (400) for a stream without the pseudo-headers a request needs, or a path
   * that does not normalize. A CONNECT has no `:path`: its target is '' (the exchange refuses it).
   */
  constructor(
    readonly headers: IncomingHttpHeaders,
    readonly conn: H2Connection,
    normalization: PathNormalization,
    private readonly trustedHops: number,
  ) {
    const method = headers[':method'];
    const path = headers[':path'];
    const authority = headers[':authority'] ?? headers.host;
    const connect = method === 'CONNECT';
    if (typeof method !== 'string' || (!connect && (typeof path !== 'string' || path.charCodeAt(0) !== 47)) /* '/' */)
      throw new HttpError(400, 'bad_request', 'a request needs :method and an origin-form :path');
    if (typeof authority !== 'string' || !authority) throw new HttpError(400, 'missing_host', 'missing :authority');
    this.method = method;
    this.rawTarget = connect ? '' : (path as string);
    this.target = connect ? '' : normalizePath(path as string, normalization);
    this.authority = authority;
    const colon = authority.lastIndexOf(':');
    const hasPort = colon > 0 && authority.indexOf(']') < colon;
    this.host = (hasPort ? authority.slice(0, colon) : authority).toLowerCase();
    const l = conn.listener;
    this.port = conn.originalPort ?? (hasPort && l.configs.length > 1 ? Number(authority.slice(colon + 1)) : l.defaultPort);
  }

  get scheme(): 'http' | 'https' {
    return this.conn.scheme;
  }
  get socket(): object {
    return this.conn.socket;
  }
  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  get peerAddress(): string {
    return this.conn.peerAddress;
  }
  get peer(): H2Connection['peer'] {
    return this.conn.peer;
  }
  get originalPort(): number | undefined {
    return this.conn.originalPort;
  }
  get originalAddress(): string | undefined {
    return this.conn.originalAddress;
  }

  /** A header's value; repeated ones joined as HTTP/1.1 joins them (cookies with `; `, as HTTP/2 allows them split). */
  header(name: string): string | undefined {
    if (name === 'host') return this.authority;
    const v = this.headers[name];
    if (v === undefined || typeof v === 'string') return v;
    return v.join(name === 'cookie' ? '; ' : ', ');
  }

  clientAddress(): string {
    const hops = this.trustedHops;
    return originalClient(hops > 0 ? this.header('x-forwarded-for') : undefined, hops, this.remoteAddress);
  }
}
