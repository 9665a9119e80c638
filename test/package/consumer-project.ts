/**
 * A consumer of the mast package, as `cdk init app --language typescript` lays a project out
 * (package.json, tsconfig.json, cdk.json, jest.config.js, bin/, lib/, test/), written by the
 * package test into a scratch directory. docs/library.md walks through the same files.
 */

/** The consumer's tool versions: the cdk init template's ranges, pinned so a run is repeatable. */
export const CONSUMER_DEV_DEPENDENCIES = {
  '@swc/core': '1.16.18',
  '@swc/jest': '0.2.39',
  '@types/jest': '30.0.0',
  '@types/node': '24.19.4',
  jest: '30.5.2',
  'aws-cdk': '2.1148.1',
  tsx: '4.23.15',
  typescript: '7.0.2',
};

/** The peers next to mast: the versions this repository develops against. */
export const CONSUMER_DEPENDENCIES = { 'aws-cdk-lib': '2.276.0', constructs: '10.8.1', cdk8s: '2.70.106', 'cdk-nag': '3.0.2' };

export const GATEWAY_HOST = 'shop.example.com';

/** Every file of the consumer project, by path; `tarball` is the packed mast, `appPort` the local app's port. */
export function consumerFiles(tarball: string, appPort: number): Record<string, string> {
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return {
    'package.json': json({
      name: 'shop',
      version: '0.1.0',
      bin: { shop: 'bin/shop.js' },
      scripts: { build: 'tsc', watch: 'tsc -w', test: 'jest', cdk: 'cdk' },
      devDependencies: CONSUMER_DEV_DEPENDENCIES,
      dependencies: { ...CONSUMER_DEPENDENCIES, mast: `file:${tarball}` },
    }),
    // cdk init's tsconfig.json and jest.config.js, as the template writes them.
    'tsconfig.json': json({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['es2022'],
        declaration: true,
        strict: true,
        noImplicitAny: true,
        strictNullChecks: true,
        noImplicitThis: true,
        alwaysStrict: true,
        noUnusedLocals: false,
        noUnusedParameters: false,
        noImplicitReturns: true,
        noFallthroughCasesInSwitch: false,
        inlineSourceMap: true,
        inlineSources: true,
        experimentalDecorators: true,
        strictPropertyInitialization: false,
        skipLibCheck: true,
        typeRoots: ['./node_modules/@types'],
        noEmit: true,
        isolatedModules: true,
        types: ['jest', 'node'],
      },
      exclude: ['node_modules', 'cdk.out'],
    }),
    // An older project's layout (CommonJS, node10 resolution, which reads no `exports`): TypeScript 5.x, run by the test.
    'tsconfig.node10.json': json({ extends: './tsconfig.json', compilerOptions: { module: 'commonjs', moduleResolution: 'node10' } }),
    'jest.config.js': `module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\\\.tsx?$': ['@swc/jest']
  },
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
};
`,
    'cdk.json': json({ app: 'npx tsc && npx tsx bin/shop.ts', watch: { include: ['**'], exclude: ['node_modules', 'test'] } }),
    // The app checks itself with cdk-nag as mast's own does: the findings mast's design accepts acknowledged with their reasons.
    'bin/shop.ts': `#!/usr/bin/env node
import * as cdk from 'aws-cdk-lib/core';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeNagFindings, EksV2Checks } from 'mast';
import { ShopStack } from '../lib/shop-stack';

const app = new cdk.App();
const stack = new ShopStack(app, 'ShopStack', { config: { envName: 'shop', zoneName: 'example.com', hostedZoneId: 'Z0SHOPEXAMPLE' } });
acknowledgeNagFindings(stack);
cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new EksV2Checks(app));
`,
    // The mesh: one workload behind the ingress gateway, with mast's typed Istio resources.
    'lib/shop-mesh.ts': `import { Gateway, VirtualService, type Mesh } from 'mast/constructs';

export function addShop(mesh: Mesh): void {
  // nginx as a non-root user on 8080 (the sidecar's pod drops the capabilities the stock image's root start needs).
  mesh.addWorkload('web', { image: 'docker.io/nginxinc/nginx-unprivileged:1.27', port: 8080, readinessPath: '/' });
  new Gateway(mesh.apps, 'gateway', {
    metadata: { name: 'shop' },
    spec: {
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['${GATEWAY_HOST}'] }],
    },
  });
  new VirtualService(mesh.apps, 'web-route', {
    metadata: { name: 'web' },
    spec: {
      hosts: ['${GATEWAY_HOST}'],
      gateways: ['shop'],
      http: [{ route: [{ destination: { host: 'web', port: { number: 8080 } } }] }],
    },
  });
}
`,
    // The AWS side: mast's environment stack, filled with the shop's mesh.
    'lib/shop-stack.ts': `import type { Construct } from 'constructs';
import { MeshEnvironmentStack, type EnvironmentConfig } from 'mast';
import type { StackProps } from 'aws-cdk-lib/core';
import { addShop } from './shop-mesh';

export class ShopStack extends MeshEnvironmentStack {
  constructor(scope: Construct, id: string, props: StackProps & { config: EnvironmentConfig }) {
    super(scope, id, { ...props, populate: addShop });
  }
}
`,
    'test/shop.test.ts': `import * as cdk from 'aws-cdk-lib/core';
import { Template } from 'aws-cdk-lib/assertions';
import { Testing } from 'cdk8s';
import { Mesh } from 'mast';
import { validate } from 'mast/api';
import { addShop } from '../lib/shop-mesh';
import { ShopStack } from '../lib/shop-stack';

test('the mesh YAML', () => {
  const mesh = new Mesh(Testing.app(), 'shop');
  addShop(mesh);
  // mast/api's validate on the whole mesh (the gateway's pods are in the system chart): no errors.
  const everything = [mesh.system, mesh.apps].flatMap((chart) => Testing.synth(chart));
  expect(validate(everything).filter((f) => f.severity === 'Error')).toEqual([]);
  expect(Testing.synth(mesh.apps)).toMatchSnapshot();
});

test('the AWS stack: a cluster, the gateway behind an NLB, the images built from the package', () => {
  const app = new cdk.App();
  const stack = new ShopStack(app, 'Shop', { config: { envName: 'test', zoneName: 'example.com', hostedZoneId: 'Z0SHOPEXAMPLE' } });
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::EKS::Cluster', 1);
  template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
  expect(stack.images?.proxy.imageUri).toBeDefined();
});
`,
    // What \`mast validate\` and \`mast local\` read: the same mesh as YAML, and the app as a local workload.
    'mesh/shop.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: shop, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [${GATEWAY_HOST}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [${GATEWAY_HOST}]
  gateways: [shop]
  http:
    - route:
        - destination: { host: web.default.svc.cluster.local, port: { number: 8080 } }
`,
    'local/web.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: default }
spec:
  hosts: [web.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: web } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: web-v1
  namespace: default
  annotations:
    local.mast.dev/run: ./web.js
spec:
  address: 127.0.0.1
  ports: { http: ${appPort} }
  labels: { app: web, version: v1 }
`,
    'local/web.js': `// The shop's app for \`mast local\`: plain JavaScript, so no bundler is needed.
require('node:http')
  .createServer((req, res) => res.end('shop web ' + req.url))
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
  };
}
