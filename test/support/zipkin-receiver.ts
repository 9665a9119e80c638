/**
 * A Zipkin collector's span API on loopback, for tests: `POST /api/v2/spans` takes a JSON list of
 * v2 spans (what Envoy's Zipkin tracer posts, and mast-proxy's zipkin provider) and answers 202, as
 * Zipkin's server; every span is kept in arrival order with the path it came on.
 */
import http from 'node:http';

export interface ReceivedZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly name: string;
  readonly kind?: string;
  readonly timestamp: number;
  readonly duration: number;
  readonly localEndpoint: { readonly serviceName: string };
  readonly tags: Record<string, string>;
}

export class ZipkinReceiver {
  readonly spans: ReceivedZipkinSpan[] = [];
  readonly posts: Array<{ path: string; contentType: string }> = [];
  private server?: http.Server;

  async listen(): Promise<number> {
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        this.posts.push({ path: req.url ?? '', contentType: String(req.headers['content-type']) });
        if (req.method !== 'POST' || req.url !== '/api/v2/spans') return void res.writeHead(404).end();
        try {
          this.spans.push(...(JSON.parse(body) as ReceivedZipkinSpan[]));
          res.writeHead(202).end();
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  /** The spans of each trace, by trace id. */
  traces(): Map<string, ReceivedZipkinSpan[]> {
    const out = new Map<string, ReceivedZipkinSpan[]>();
    for (const s of this.spans) out.set(s.traceId, [...(out.get(s.traceId) ?? []), s]);
    return out;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? (this.server.closeAllConnections(), this.server.close(() => resolve())) : resolve()));
  }
}
