// An OTLP/HTTP (JSON) trace receiver for the telemetry rows (telemetry-cost.mjs): answers every
// POST /v1/traces with 200 and counts the spans it got; GET /count tells the count. A collector
// that keeps up, so the rows measure the proxies' side of tracing only.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
let spans = 0;
createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') return res.end(String(spans));
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      for (const r of body.resourceSpans ?? []) for (const s of r.scopeSpans ?? []) spans += s.spans?.length ?? 0;
    } catch {}
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
}).listen(port, '127.0.0.1');
