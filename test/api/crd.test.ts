import Ajv from 'ajv';
import { allCrds, crdFor, KINDS, loadFiles, loadYaml, servedVersions, validate, type MeshKind } from '../../api';
import { BOOKINFO_MESH_DIR } from '../../examples/bookinfo/bookinfo';

type Props = Record<string, any>;
const schemaOf = (kind: MeshKind, version = 'v1'): Props =>
  (crdFor(kind) as any).spec.versions.find((v: any) => v.name === version).schema.openAPIV3Schema;

/** Kubernetes "structural" rules: a type everywhere (but int-or-string), no properties beside additionalProperties. */
function structuralProblems(node: Props, path: string): string[] {
  const out: string[] = [];
  if (!node.type && !node['x-kubernetes-int-or-string'] && !node['x-kubernetes-preserve-unknown-fields']) out.push(`${path}: no type`);
  if (node.properties && node.additionalProperties) out.push(`${path}: properties and additionalProperties`);
  for (const [k, v] of Object.entries(node.properties ?? {})) out.push(...structuralProblems(v as Props, `${path}.${k}`));
  if (node.items) out.push(...structuralProblems(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') out.push(...structuralProblems(node.additionalProperties, `${path}{}`));
  return out;
}

/**
 * What the API server stores of an object (its pruning of a structural schema): fields a node does
 * not describe are dropped, unless the node keeps unknown fields.
 */
function pruned(value: unknown, node: Props): unknown {
  if (Array.isArray(value)) return node.items ? value.map((v) => pruned(v, node.items)) : value;
  if (value === null || typeof value !== 'object') return value;
  const out: Props = {};
  for (const [k, v] of Object.entries(value)) {
    const child = node.properties?.[k] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
    // metadata is the API server's own, never pruned by a CRD's schema.
    if (k === 'metadata' || (!child && node['x-kubernetes-preserve-unknown-fields'])) out[k] = v;
    else if (child) out[k] = pruned(v, child);
  }
  return out;
}

function validator(kind: MeshKind) {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  return ajv.compile(schemaOf(kind));
}

describe('generated CRDs', () => {
  test('one CRD per kind, named <plural>.<group>, serving v1 (stored), v1beta1 and v1alpha3 with one schema', () => {
    const crds = allCrds() as any[];
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(
      Object.values(KINDS)
        .map((k) => `${k.plural}.${k.group}`)
        .sort(),
    );
    for (const crd of crds) {
      expect(crd.spec.versions.map((v: any) => [v.name, v.served, v.storage])).toEqual(
        servedVersions(crd.spec.names.kind).map((v) => [v, true, v === 'v1']),
      );
      const schemas = new Set(crd.spec.versions.map((v: any) => JSON.stringify(v.schema)));
      expect(schemas.size).toBe(1);
    }
  });

  test.each(Object.keys(KINDS))('%s schema is structural', (kind) => {
    expect(structuralProblems(schemaOf(kind as MeshKind), kind)).toEqual([]);
  });

  test.each(Object.keys(KINDS))('%s CRD stays under the 256 KiB client-side apply annotation limit', (kind) => {
    expect(Buffer.byteLength(JSON.stringify(crdFor(kind as MeshKind)))).toBeLessThan(256 * 1024);
  });

  test('accepts every resource of the bundled example', () => {
    const { objects } = loadFiles([BOOKINFO_MESH_DIR]);
    expect(objects.length).toBeGreaterThan(5);
    for (const obj of objects) {
      const validate = validator(obj.kind as MeshKind);
      expect({ name: obj.metadata.name, ok: validate(obj), errors: validate.errors }).toEqual({
        name: obj.metadata.name,
        ok: true,
        errors: null,
      });
    }
  });

  test('an Istio field mast does not model is stored as written, at any depth (installed where Istio was, nothing is pruned)', () => {
    const dr = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'r' },
      spec: {
        host: 'r.default.svc.cluster.local',
        trafficPolicy: { proxyProtocol: { version: 'V2' }, connectionPool: { tcp: { maxConnections: 5, futureKnob: 1 } } },
        futureTopLevel: { a: [1, 2] },
      },
    };
    const schema = schemaOf('DestinationRule');
    // Not vacuous: these are fields the schema does not describe.
    const spec = schema.properties.spec;
    expect(spec.properties.futureTopLevel).toBeUndefined();
    expect(spec.properties.trafficPolicy.properties.connectionPool.properties.tcp.properties.futureKnob).toBeUndefined();
    expect(pruned(dr, schema)).toEqual(dr);
    expect(
      pruned(dr, { ...schema, properties: { ...schema.properties, spec: { type: 'object', properties: { host: { type: 'string' } } } } }),
    ).not.toEqual(dr);
  });

  test("kubectl get shows Istio's columns", () => {
    const columns = (kind: MeshKind) =>
      (crdFor(kind) as any).spec.versions[0].additionalPrinterColumns.map((c: any) => `${c.name}=${c.jsonPath}`);
    expect(columns('VirtualService')).toEqual(['Gateways=.spec.gateways', 'Hosts=.spec.hosts', 'Age=.metadata.creationTimestamp']);
    expect(columns('PeerAuthentication')).toEqual(['Mode=.spec.mtls.mode', 'Age=.metadata.creationTimestamp']);
    expect(columns('Gateway')).toEqual(['Age=.metadata.creationTimestamp']);
  });

  test('rejects a mistyped VirtualService and an unknown load balancer', () => {
    const vs = validator('VirtualService');
    expect(
      vs({
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'x' },
        spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' }, weight: 'ninety' }] }] },
      }),
    ).toBe(false);
    expect(vs.errors?.[0].instancePath).toBe('/spec/http/0/route/0/weight');
    const dr = validator('DestinationRule');
    expect(dr({ spec: { host: 'a', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } } })).toBe(false);
    expect(dr({ spec: { trafficPolicy: {} } })).toBe(false); // host is required
  });
});

test("versions as Istio's CRDs serve them: security.istio.io at v1 and v1beta1, networking.istio.io at v1alpha3 too", () => {
  expect(servedVersions('AuthorizationPolicy')).toEqual(['v1', 'v1beta1']);
  expect(servedVersions('PeerAuthentication')).toEqual(['v1', 'v1beta1']);
  expect(servedVersions('RequestAuthentication')).toEqual(['v1', 'v1beta1']);
  expect(servedVersions('VirtualService')).toEqual(['v1', 'v1beta1', 'v1alpha3']);
  const f = validate(
    loadYaml('apiVersion: security.istio.io/v1alpha3\nkind: AuthorizationPolicy\nmetadata: { name: a, namespace: default }\nspec: {}\n')
      .objects,
  );
  expect(f.map((x) => [x.code, x.path, x.message])).toEqual([
    ['MAST0006', 'apiVersion', '"security.istio.io/v1alpha3" is not served; use security.istio.io/v1'],
  ]);
});
