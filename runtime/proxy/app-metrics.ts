/**
 * Istio's metrics merging: injection moves an app's `prometheus.io/{scrape,port,path}` annotations
 * into `MAST_PROMETHEUS_ANNOTATIONS` (JSON) and points the pod's at the sidecar's status port; there
 * `/stats/prometheus` serves the proxy's metrics followed by the app's, scraped from 127.0.0.1 within a
 * time and size bound, so one scrape config covers every pod, mTLS or not. Istio's agent does the same
 * with `ISTIO_PROMETHEUS_ANNOTATIONS`.
 */

export const PROMETHEUS_ANNOTATIONS_ENV = 'MAST_PROMETHEUS_ANNOTATIONS';
/** An app's scrape takes at most this long; past it the proxy's metrics are served alone. */
export const APP_SCRAPE_TIMEOUT_MS = 5_000;
/** An app's exposition larger than this is not served (counted as a failed scrape). */
export const APP_SCRAPE_MAX_BYTES = 8 * 1024 * 1024;

export interface AppScrape {
  readonly port: number;
  /** @default '/metrics' (Prometheus') */
  readonly path: string;
}

export class AppScrapeConfigError extends Error {
  readonly code = 'MAST_APP_SCRAPE_CONFIG';
}

/** `MAST_PROMETHEUS_ANNOTATIONS` read and checked; undefined when the app asks for no scrape. */
export function parseAppScrape(text: string | undefined): AppScrape | undefined {
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AppScrapeConfigError(`${PROMETHEUS_ANNOTATIONS_ENV} is not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new AppScrapeConfigError(`${PROMETHEUS_ANNOTATIONS_ENV} must be an object { scrape, port, path }`);
  const { scrape, port, path } = raw as Record<string, unknown>;
  if (scrape !== 'true') return undefined;
  const n = Number(port);
  if (!(Number.isInteger(n) && n >= 1 && n <= 65535))
    throw new AppScrapeConfigError(`${PROMETHEUS_ANNOTATIONS_ENV} port: ${JSON.stringify(port)} is not a port number 1-65535`);
  const p = path === undefined || path === '' ? '/metrics' : path;
  if (typeof p !== 'string' || !/^\/[\x21-\x7e]*$/.test(p))
    throw new AppScrapeConfigError(`${PROMETHEUS_ANNOTATIONS_ENV} path: ${JSON.stringify(path)} is not a path starting with /`);
  return { port: n, path: p };
}

/** The app's exposition, or why there is none. Never rejects; bounded by `timeoutMs` and APP_SCRAPE_MAX_BYTES. */
export async function scrapeApp(s: AppScrape, timeoutMs = APP_SCRAPE_TIMEOUT_MS): Promise<{ text: string } | { error: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(`http://127.0.0.1:${s.port}${s.path}`, {
      signal,
      headers: { accept: 'text/plain;version=0.0.4' },
      redirect: 'error',
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { error: `status ${res.status}` };
    }
    if (!res.body) return { text: '' };
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      size += r.value.length;
      if (size > APP_SCRAPE_MAX_BYTES) {
        await reader.cancel();
        return { error: `larger than ${APP_SCRAPE_MAX_BYTES} bytes` };
      }
      chunks.push(r.value);
    }
    return { text: Buffer.concat(chunks).toString('utf8') };
  } catch (e) {
    return { error: signal.aborted ? `no answer within ${timeoutMs} ms` : (e as Error).message };
  }
}

/** The proxy's exposition, then the app's (ended by a newline, as the text format wants). */
export function mergeExposition(proxy: string, app: string): string {
  if (!app) return proxy;
  return `${proxy}${app.endsWith('\n') ? app : `${app}\n`}`;
}
