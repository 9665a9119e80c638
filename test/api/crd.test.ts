import Ajv from 'ajv';
import { allCrds, crdFor, KINDS, loadFiles, loadYaml, servedVersions, telemetryCrd, validate, type MeshKind } from '../../api';
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

  test('rejects a mistyped VirtualService: the CRD holds the types', () => {
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
  });

  /** Every enum, required list and bound left in a schema, by path. */
  function constraints(node: Props, path: string): string[] {
    const here = ['enum', 'required', 'minimum', 'maximum', 'minItems', 'maxItems', 'minLength', 'maxLength', 'pattern', 'format']
      .filter((k) => node[k] !== undefined)
      .map((k) => `${path}: ${k} ${JSON.stringify(node[k])}`);
    const children = [
      ...Object.entries(node.properties ?? {}).map(([k, v]) => constraints(v as Props, `${path}.${k}`)),
      node.items ? constraints(node.items, `${path}[]`) : [],
      typeof node.additionalProperties === 'object' ? constraints(node.additionalProperties, `${path}{}`) : [],
    ];
    return [...here, ...children.flat()];
  }

  test.each(Object.keys(KINDS))(
    "%s CRD is no stricter than Istio's: types only (no enum, required field or bound: mast validate reports those)",
    (kind) => {
      expect(constraints(schemaOf(kind as MeshKind), kind)).toEqual([]);
    },
  );

  test("the Telemetry CRD too is no stricter than Istio's", () => {
    const crd = telemetryCrd() as any;
    for (const v of crd.spec.versions) expect(constraints(v.schema.openAPIV3Schema, 'Telemetry')).toEqual([]);
  });

  test("objects Istio's CRDs take are stored; mast validate reports what it refuses or does not apply", () => {
    const cases: Array<[MeshKind, Props, string]> = [
      ['ServiceEntry', { hosts: ['a.example.com'], resolution: 'DYNAMIC_DNS' }, 'MAST0301'],
      ['Gateway', { selector: { istio: 'ingressgateway' } }, 'MAST0003'],
      ['ServiceEntry', { hosts: ['a.example.com'], ports: [{ number: 0, name: 'p', protocol: 'TCP' }] }, 'MAST0005'],
      ['RequestAuthentication', { jwtRules: [{ jwksUri: 'https://idp.example.com/jwks' }] }, 'MAST0003'],
      ['DestinationRule', { host: 'a', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }, 'MAST0004'],
    ];
    for (const [kind, spec, code] of cases) {
      const obj = { apiVersion: `${KINDS[kind].group}/v1`, kind, metadata: { name: 'x', namespace: 'default' }, spec };
      const crd = validator(kind);
      expect({ kind, spec, stored: crd(obj), errors: crd.errors }).toEqual({ kind, spec, stored: true, errors: null });
      expect(validate([obj as any]).map((f) => f.code)).toContain(code);
    }
    // Not even a spec is required (Istio's CRDs take an object without one).
    expect(validator('VirtualService')({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' } })).toBe(
      true,
    );
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
