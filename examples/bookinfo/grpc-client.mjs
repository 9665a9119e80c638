// A gRPC client of the example's bookinfo.Ratings service, for trying gRPC through the mesh:
//   node examples/bookinfo/grpc-client.mjs [get|watch] [--target 127.0.0.1:8080] [--authority alpha.example.com] [--count 3]
// It calls the gateway of `npm start` (HTTP/2 with prior knowledge on its HTTP port), which routes
// `/bookinfo.Ratings/` to ratings' grpc port. Messages are JSON, as the app's service defines them
// (examples/bookinfo/app/ratings-grpc.ts): no .proto file. Prints each reply, and the gRPC status.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: 'string', default: '127.0.0.1:8080' },
    authority: { type: 'string', default: 'alpha.example.com' },
    count: { type: 'string', default: '3' },
  },
});
const method = positionals[0] ?? 'get';
if (method !== 'get' && method !== 'watch') {
  console.error(`grpc-client: the method is get or watch, not ${JSON.stringify(method)}`);
  process.exit(2);
}

const json = { serialize: (v) => Buffer.from(JSON.stringify(v)), deserialize: (b) => JSON.parse(b.toString('utf8')) };
const definition = (name, responseStream) => ({
  path: `/bookinfo.Ratings/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const Ratings = grpc.makeGenericClientConstructor({ Get: definition('Get', false), Watch: definition('Watch', true) }, 'Ratings');
const client = new Ratings(values.target, grpc.credentials.createInsecure(), {
  'grpc.default_authority': values.authority,
  'grpc.enable_http_proxy': 0,
});
const deadline = Date.now() + 10_000;
const done = (err) => {
  console.log(err ? `status ${err.code} ${grpc.status[err.code]}: ${err.details}` : 'status 0 OK');
  client.close();
  process.exitCode = err ? 1 : 0;
};

if (method === 'get')
  client.Get({ productId: 0 }, { deadline }, (err, reply) => {
    if (reply) console.log(JSON.stringify(reply));
    done(err);
  });
else {
  const call = client.Watch({ count: Number(values.count) }, { deadline });
  call.on('data', (update) => console.log(JSON.stringify(update)));
  call.on('error', done);
  call.on('end', () => done(null));
}
