/**
 * Two jest projects over test/:
 * - `unit`: pure code, no sockets and no child processes (test/support/unit-guard.ts fails a test
 *   that opens, listens or spawns), so it needs no bundles: `npm run test:unit`, the inner loop.
 * - `integration`: everything else (real proxies and mastd on loopback, spawned bundles, e2e,
 *   security, chaos), with the bundles built once per run by its global setup.
 * `npm test` (and `jest`) runs both. A new pure test file goes in UNIT below.
 * - `package` (only with MAST_PACKAGE_TEST=1: `npm run test:package`): the project packed and installed into a consumer.
 * - `images` (only with MAST_IMAGES_TEST=1: `npm run test:images`): the Dockerfiles built with buildah and run with podman.
 */
const UNIT = [
  'test/architecture.test.ts',
  'test/api/conformance.test.ts',
  'test/api/crd.test.ts',
  'test/api/dashboards.test.ts',
  'test/api/dr-credentials.test.ts',
  'test/api/grpc.test.ts',
  'test/api/load.test.ts',
  'test/api/locality.test.ts',
  'test/api/primitives.test.ts',
  'test/api/protocol.test.ts',
  'test/api/runtime-support.test.ts',
  'test/api/sidecar.test.ts',
  'test/api/telemetry.test.ts',
  'test/api/mesh-config.test.ts',
  'test/api/validate.test.ts',
  'test/compile/**/*.test.ts',
  // Not test/constructs/upstream-schema.test.ts: Istio's schemas are ESM-only, read by a node child process.
  'test/constructs/dashboards.test.ts',
  'test/constructs/egress-gateway.test.ts',
  'test/constructs/inject.test.ts',
  'test/constructs/inject.cdk8s-plus.test.ts',
  'test/constructs/kubernetes-defaults.test.ts',
  'test/constructs/mesh.test.ts',
  'test/constructs/pod-monitor.test.ts',
  'test/constructs/scrape-annotations.test.ts',
  'test/constructs/sidecar.test.ts',
  'test/constructs/system.test.ts',
  'test/runtime/contract/**/*.test.ts',
  'test/runtime/control/ca.test.ts',
  'test/runtime/control/ingest.test.ts',
  'test/runtime/local/gateway.test.ts',
  'test/runtime/local/graph.test.ts',
  'test/runtime/local/prometheus.test.ts',
  'test/runtime/local/traces.test.ts',
  'test/runtime/local/workloads.test.ts',
  'test/runtime/proxy/alpn.test.ts',
  'test/runtime/proxy/access-log/**/*.test.ts',
  'test/runtime/proxy/capture.test.ts',
  'test/runtime/proxy/config-check.test.ts',
  'test/runtime/proxy/deadlines.test.ts',
  'test/runtime/proxy/grpc-messages.test.ts',
  'test/runtime/proxy/metric-context.test.ts',
  'test/runtime/proxy/metrics.test.ts',
  'test/runtime/proxy/telemetry.series.test.ts',
  'test/runtime/proxy/request-id.test.ts',
  'test/runtime/proxy/routing.test.ts',
  'test/runtime/proxy/server-names.test.ts',
  'test/runtime/proxy/gateway-tls.files.test.ts',
  'test/runtime/local/credentials.test.ts',
  'test/runtime/proxy/h2/codec/**/*.test.ts',
  'test/runtime/proxy/h2/grpc-web.test.ts',
  'test/runtime/proxy/h2/upstream-h2.test.ts',
  'test/runtime/proxy/h2/upstream-pool.idle.test.ts',
  'test/runtime/proxy/http/head.test.ts',
  'test/runtime/proxy/http/normalize-path.test.ts',
  'test/runtime/proxy/request/replay-buffer.test.ts',
  'test/runtime/proxy/request/retry.test.ts',
  'test/runtime/proxy/request/route.test.ts',
  'test/runtime/proxy/otlp/protobuf.test.ts',
  'test/runtime/proxy/tracing/exporter.test.ts',
  'test/runtime/proxy/tracing/propagation.test.ts',
  'test/runtime/proxy/tracing/span.test.ts',
  'test/runtime/proxy/tracing/tracer.test.ts',
  'test/runtime/proxy/tracing/zipkin.test.ts',
  'test/runtime/proxy/upstream/hash-ring.test.ts',
  'test/runtime/proxy/upstream/locality.test.ts',
  'test/runtime/proxy/upstream/protocol.test.ts',
  'test/cli/dns-check.test.ts',
  'test/cli/proxy-status.test.ts',
  'test/lib/config.test.ts',
  'test/support/unit-guard.test.ts',
];

const common = {
  testEnvironment: 'node',
  rootDir: __dirname,
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The package build's output (out/, with its own package.json) and CDK assemblies (copies of the sources)
  // are no modules of the tests: else jest's haste map sees two packages named mast, and duplicate files.
  modulePathIgnorePatterns: ['<rootDir>/out/', '<rootDir>/cdk.out/', '<rootDir>/.*/cdk.out/'],
};
// A glob of UNIT as a path pattern: a double star and slash for any folders, a star for any name.
const asRegex = (glob) =>
  `^<rootDir>/${glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .split('**/')
    .map((part) => part.replace(/\*/g, '[^/]*'))
    .join('(.*/)?')}$`;

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60000,
  // Jest's default workers (one less than the cores: one on 2 cores). Two were measured on this
  // 2-core machine: every file took about twice as long (the suite computes more than it waits),
  // the whole run only ~10 % less, and a chaos test's failure budget was exceeded.
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: UNIT.map((g) => `<rootDir>/${g}`),
      setupFilesAfterEnv: ['<rootDir>/test/support/unit-guard.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // The package test packs and installs the project (minutes): `npm run test:package`, which .ci/run runs too.
      // So do the images (built and run with buildah and podman, minutes): `npm run test:images`.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/package/', '<rootDir>/test/images/', ...UNIT.map(asRegex)],
      // A unit file whose tests were all skipped leaves its guard on (no afterAll): undone before each file.
      setupFilesAfterEnv: ['<rootDir>/test/support/unit-guard-off.ts'],
      // The bundles are built once per run, into a directory of the run's own (test/support/build.ts).
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    ...(process.env.MAST_PACKAGE_TEST === '1'
      ? [{ ...common, displayName: 'package', testMatch: ['<rootDir>/test/package/**/*.test.ts'] }]
      : []),
    ...(process.env.MAST_IMAGES_TEST === '1'
      ? [{ ...common, displayName: 'images', testMatch: ['<rootDir>/test/images/**/*.test.ts'] }]
      : []),
  ],
};
