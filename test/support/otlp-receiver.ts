/**
 * An OTLP/gRPC collector for the tests, on loopback (node:http2, h2c, as an OpenTelemetry collector's
 * 4317): it takes `LogsService/Export` and `TraceService/Export` calls, reads each message out of gRPC's
 * framing, decodes it with the reference reader (otlp-decode.ts) and keeps what it got. `status` sets
 * the grpc-status it answers (0 OK; e.g. 14 UNAVAILABLE to refuse), sent in the trailers.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type DecodedLogRecord, type DecodedSpan, decodeLogsRequest, decodeTraceRequest } from './otlp-decode';

const LOGS = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const TRACES = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface ReceivedCall {
  readonly path: string;
  readonly authority: string;
  readonly contentType: string;
  readonly te: string;
}

export class OtlpGrpcReceiver {
  readonly records: DecodedLogRecord[] = [];
  readonly spans: Array<DecodedSpan & { service?: string }> = [];
  readonly resources: Array<Array<[string, string | undefined]>> = [];
  readonly calls: ReceivedCall[] = [];
  /** The grpc-status answered to every call from now on. */
  status = 0;
  port = 0;
  private server?: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  async listen(): Promise<number> {
    const server = http2.createServer();
    server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const path = String(headers[':path']);
        this.calls.push({
          path,
          authority: String(headers[':authority']),
          contentType: String(headers['content-type']),
          te: String(headers.te),
        });
        const body = Buffer.concat(chunks);
        if (path !== LOGS && path !== TRACES) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
          return;
        }
        // One length-prefixed message, uncompressed.
        if (body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) throw new Error(`not one gRPC message: ${body.toString('hex')}`);
        const message = body.subarray(5);
        if (this.status === 0) {
          if (path === LOGS)
            for (const rl of decodeLogsRequest(message)) {
              this.resources.push(rl.resource);
              this.records.push(...rl.records);
            }
          else
            for (const rs of decodeTraceRequest(message)) {
              const service = rs.resource.find(([k]) => k === 'service.name')?.[1];
              for (const sc of rs.scopes) for (const s of sc.spans) this.spans.push({ ...s, service });
            }
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(this.status) }));
        // The empty ExportLogsServiceResponse / ExportTraceServiceResponse.
        stream.end(this.status === 0 ? Buffer.from([0, 0, 0, 0, 0]) : undefined);
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  /** Stopped, its sessions ended (a proxy's next export fails to connect). */
  close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
