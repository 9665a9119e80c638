/**
 * CustomResourceDefinitions generated from the mesh API's own schemas (structural OpenAPI v3).
 *
 * They carry Istio's names, so they may be installed where Istio's were: every object node keeps the
 * fields it does not describe (`x-kubernetes-preserve-unknown-fields`), so an Istio field mast does not
 * model (or a newer Istio's) is stored as written, never pruned; `mast validate` reports it (MAST0301).
 * The printer columns are Istio's, so `kubectl get` reads the same.
 */
import type { Schema } from './schema';
import { KINDS, servedVersions, STORAGE_VERSION, type MeshKind } from './resources';

export type JsonSchemaProps = Record<string, unknown>;

export function toOpenApi(schema: Schema, withDocs = false, keepUnknown = false): JsonSchemaProps {
  return openApi(schema, { withDocs, keepUnknown, constraints: true });
}

/**
 * The schema as a CRD holds it: types and structure only. An object Istio's CRD takes must be taken
 * here too (installed where Istio's were, or beside it), so no enum, required field or bound of
 * mast's own schema goes in: the API server is the wrong place to refuse what `mast validate` reports
 * with its finding codes (MAST0004 for a value outside Istio's, MAST0301 for one mast does not apply).
 */
export function toCrdSchema(schema: Schema): JsonSchemaProps {
  return openApi(schema, { withDocs: true, keepUnknown: true, constraints: false });
}

type Options = { readonly withDocs: boolean; readonly keepUnknown: boolean; readonly constraints: boolean };

function openApi(schema: Schema, o: Options): JsonSchemaProps {
  const doc = o.withDocs && schema.doc ? { description: schema.doc } : {};
  switch (schema.type) {
    case 'string':
      return { type: 'string', ...doc };
    case 'boolean':
      return { type: 'boolean', ...doc };
    case 'integer':
      return o.constraints ? { type: 'integer', format: 'int32', ...range(schema), ...doc } : { type: 'integer', ...doc };
    case 'number':
      return o.constraints ? { type: 'number', format: 'double', ...range(schema), ...doc } : { type: 'number', ...doc };
    case 'int-or-string':
      return { 'x-kubernetes-int-or-string': true, ...doc };
    case 'enum':
      return o.constraints ? { type: 'string', enum: [...schema.values], ...doc } : { type: 'string', ...doc };
    case 'array':
      return { type: 'array', items: openApi(schema.items, o), ...doc };
    case 'map':
      return { type: 'object', additionalProperties: openApi(schema.values, o), ...doc };
    case 'object': {
      const required = Object.entries(schema.fields)
        .filter(([, f]) => f.required)
        .map(([k]) => k);
      const properties = Object.fromEntries(Object.entries(schema.fields).map(([k, f]) => [k, openApi(f, o)]));
      const keep = o.keepUnknown ? { 'x-kubernetes-preserve-unknown-fields': true } : {};
      const req = o.constraints && required.length ? { required } : {};
      return { type: 'object', properties, ...req, ...keep, ...doc };
    }
  }
}

type Column = { readonly name: string; readonly type: 'string' | 'date'; readonly jsonPath: string; readonly description?: string };
const AGE: Column = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const column = (name: string, jsonPath: string): Column => ({ name, type: 'string', jsonPath });

/** `kubectl get` columns before Age, as Istio's CRDs have them (facts from istio/istio's crd-all.gen.yaml). */
const PRINTER_COLUMNS: Record<MeshKind, Column[]> = {
  Gateway: [],
  VirtualService: [column('Gateways', '.spec.gateways'), column('Hosts', '.spec.hosts')],
  DestinationRule: [column('Host', '.spec.host')],
  ServiceEntry: [column('Hosts', '.spec.hosts'), column('Location', '.spec.location'), column('Resolution', '.spec.resolution')],
  WorkloadEntry: [column('Address', '.spec.address')],
  PeerAuthentication: [column('Mode', '.spec.mtls.mode')],
  AuthorizationPolicy: [column('Action', '.spec.action')],
  RequestAuthentication: [],
  Sidecar: [],
};

const range = (s: { minimum?: number; maximum?: number }) => ({
  ...(s.minimum !== undefined ? { minimum: s.minimum } : {}),
  ...(s.maximum !== undefined ? { maximum: s.maximum } : {}),
});

/** What makes one kind's CRD: its names, its spec's schema, and the versions served (`storage` stored). */
export interface CrdShape {
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  readonly shortNames: readonly string[];
  readonly description: string;
  readonly spec: Schema;
  readonly versions: readonly string[];
  readonly storage: string;
  readonly columns: readonly Column[];
}

/** A CRD manifest; every served version shares the schema (no stricter than Istio's); fields it does not name are kept (preserved). */
export function crdManifest(c: CrdShape): Record<string, unknown> {
  const spec = { ...toCrdSchema(c.spec), description: c.description };
  const schema = {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        spec,
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${c.plural}.${c.group}`, labels: { 'app.kubernetes.io/part-of': 'mast' } },
    spec: {
      group: c.group,
      names: {
        kind: c.kind,
        listKind: `${c.kind}List`,
        plural: c.plural,
        singular: c.kind.toLowerCase(),
        shortNames: [...c.shortNames],
        categories: ['mast', 'istio-io'],
      },
      scope: 'Namespaced',
      versions: c.versions.map((name) => ({
        name,
        served: true,
        storage: name === c.storage,
        schema,
        additionalPrinterColumns: [...c.columns, AGE],
        subresources: { status: {} },
      })),
    },
  };
}

/** The CRD manifest for one mesh kind, v1 stored. */
export function crdFor(kind: MeshKind): Record<string, unknown> {
  const info = KINDS[kind];
  return crdManifest({
    group: info.group,
    kind,
    plural: info.plural,
    shortNames: info.shortNames,
    description: info.doc,
    spec: info.spec,
    versions: servedVersions(kind),
    storage: STORAGE_VERSION,
    columns: PRINTER_COLUMNS[kind],
  });
}

export function allCrds(): Array<Record<string, unknown>> {
  return (Object.keys(KINDS) as MeshKind[]).map(crdFor);
}
