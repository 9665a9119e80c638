/**
 * mastd's JWKS fetcher (istiod's jwks resolver): the keys of every RequestAuthentication
 * `jwksUri`, fetched with a timeout and a size bound, refreshed periodically, the last good keys
 * kept when a refresh fails (failures counted). The compiler gets `current()` as an input and
 * inlines the keys, so proxies never fetch anything. A URI never fetched successfully has no keys:
 * its issuer's tokens are refused (fail closed).
 */
import type { FetchedJwks, Jwk } from '../contract/jwt';

export interface JwksFetcherOptions {
  /** Per fetch. @default 5000 (istiod's default jwksFetch timeout, 5 s) */
  readonly timeoutMs?: number;
  /** A larger response is refused. @default 1 MiB */
  readonly maxBytes?: number;
  /** Between refreshes of one URI. @default 20 min (istiod's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL) */
  readonly refreshMs?: number;
  /** Called when the keys of some URI changed after a refresh (mastd pushes a new snapshot). */
  readonly onChange?: () => void;
  readonly log?: (line: string) => void;
}

/** Why a fetch failed, with a stable code. */
export class JwksFetchError extends Error {
  constructor(
    readonly code: 'MAST_JWKS_HTTP' | 'MAST_JWKS_TIMEOUT' | 'MAST_JWKS_TOO_LARGE' | 'MAST_JWKS_INVALID' | 'MAST_JWKS_NETWORK',
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  keys?: readonly Jwk[];
  /** The JSON of the keys, to tell a change. */
  text?: string;
  fetches: number;
  failures: number;
  lastError?: string;
  timer?: NodeJS.Timeout;
  first?: Promise<void>;
  /** A fetch of this URI is on its way: a slow server (or a busy mastd) gets one at a time, never a pile-up of refreshes. */
  fetching?: boolean;
}

/** The keys of a JWKS document, or an error naming what is wrong. */
export function parseJwksDocument(body: string): Jwk[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new JwksFetchError('MAST_JWKS_INVALID', 'the response is not JSON');
  }
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new JwksFetchError('MAST_JWKS_INVALID', 'the response has no "keys" array');
  return keys.filter((k): k is Jwk => typeof k === 'object' && k !== null && typeof (k as Jwk).kty === 'string');
}

/** One GET of a JWKS: bounded in time and size. */
export async function fetchJwks(uri: string, timeoutMs: number, maxBytes: number): Promise<Jwk[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(uri, { signal: abort.signal, redirect: 'follow', headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new JwksFetchError('MAST_JWKS_HTTP', `HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new JwksFetchError('MAST_JWKS_TOO_LARGE', `${declared} bytes (at most ${maxBytes})`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw new JwksFetchError('MAST_JWKS_TOO_LARGE', `more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
    return parseJwksDocument(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    if (err instanceof JwksFetchError) throw err;
    if (abort.signal.aborted) throw new JwksFetchError('MAST_JWKS_TIMEOUT', `no response within ${timeoutMs} ms`);
    throw new JwksFetchError('MAST_JWKS_NETWORK', (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

export class JwksFetcher {
  private readonly entries = new Map<string, Entry>();
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly refreshMs: number;

  constructor(private readonly options: JwksFetcherOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxBytes = options.maxBytes ?? 1 << 20;
    this.refreshMs = options.refreshMs ?? 20 * 60_000;
  }

  /**
   * Keeps exactly these URIs fetched: new ones are fetched now (resolves once each answered or
   * failed, within the timeout, so the first config has their keys), gone ones are dropped.
   */
  async track(uris: readonly string[]): Promise<void> {
    const wanted = new Set(uris);
    for (const [uri, e] of this.entries)
      if (!wanted.has(uri)) {
        clearInterval(e.timer);
        this.entries.delete(uri);
      }
    const firsts: Promise<void>[] = [];
    for (const uri of wanted) {
      let e = this.entries.get(uri);
      if (!e) {
        const entry: Entry = { fetches: 0, failures: 0 };
        this.entries.set(uri, (e = entry));
        entry.first = this.refresh(uri, entry, false);
        entry.timer = setInterval(() => void this.refresh(uri, entry, true), this.refreshMs);
        entry.timer.unref();
      }
      if (e.first) firsts.push(e.first);
    }
    await Promise.all(firsts);
  }

  private async refresh(uri: string, e: Entry, notify: boolean): Promise<void> {
    if (e.fetching) return;
    e.fetching = true;
    e.fetches++;
    try {
      const keys = await fetchJwks(uri, this.timeoutMs, this.maxBytes);
      if (this.entries.get(uri) !== e) return; // dropped meanwhile
      const text = JSON.stringify(keys);
      const changed = text !== e.text;
      e.keys = keys;
      e.text = text;
      e.lastError = undefined;
      if (changed && notify) this.options.onChange?.();
    } catch (err) {
      e.failures++;
      e.lastError = `${(err as JwksFetchError).code ?? 'MAST_JWKS_NETWORK'}: ${(err as Error).message}`;
      this.options.log?.(
        `jwks ${uri}: fetch failed (${e.lastError}); ${e.keys ? 'keeping the last good keys' : 'no keys: tokens of its issuers are refused'}`,
      );
    } finally {
      e.fetching = false;
    }
  }

  /** The last good keys of every tracked URI that has some. */
  current(): FetchedJwks {
    const out = new Map<string, readonly Jwk[]>();
    for (const [uri, e] of this.entries) if (e.keys) out.set(uri, e.keys);
    return out;
  }

  /** Fetches and failures per URI (mastd_jwks_* on /metrics, and tests). */
  stats(): Array<{ uri: string; fetches: number; failures: number; hasKeys: boolean; lastError?: string }> {
    return [...this.entries].map(([uri, e]) => ({
      uri,
      fetches: e.fetches,
      failures: e.failures,
      hasKeys: e.keys !== undefined,
      ...(e.lastError ? { lastError: e.lastError } : {}),
    }));
  }

  close(): void {
    for (const e of this.entries.values()) clearInterval(e.timer);
    this.entries.clear();
  }
}
