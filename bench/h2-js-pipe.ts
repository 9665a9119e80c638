// The bench's "h2 js-codec pipe" row: the codec's relay (runtime/proxy/h2/codec/relay.ts), the
// counterpart of h2-pipe-proxy.mjs's node:http2 floor: every stream relayed to one upstream h2c
// connection, no routing, no telemetry. h2.mjs bundles it with esbuild.
// Usage: node h2-js-pipe.js <listen port> <upstream port>
import * as net from 'node:net';
import { relayServer } from '../runtime/proxy/h2/codec/relay';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
relayServer(() => net.connect(upstreamPort, '127.0.0.1')).listen(port, '127.0.0.1');
