/**
 * gRPC messages counted as they pass, as Envoy's grpc_stats filter counts them for Istio's
 * `istio_request_messages_total` and `istio_response_messages_total`: a gRPC body is messages each
 * behind a 5-byte prefix (a flag byte, a 4-byte big-endian length), and a message is counted when its
 * prefix is complete, wherever chunks split it. A chunk costs a few jumps, not a pass over its bytes.
 */
export class GrpcMessageCounter {
  count = 0;
  /** Bytes of the current message's body still to come. */
  private body = 0;
  /** Bytes of a prefix seen so far (0: none started); the length's bytes as read. */
  private prefix = 0;
  private length = 0;

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.body > 0) {
        const take = Math.min(this.body, n - i);
        this.body -= take;
        i += take;
        continue;
      }
      // A prefix: the flag byte, then the length's four bytes.
      if (this.prefix === 0) this.count++;
      if (this.prefix > 0) this.length = this.length * 256 + chunk[i];
      i++;
      if (++this.prefix === 5) {
        this.body = this.length;
        this.prefix = 0;
        this.length = 0;
      }
    }
  }
}
