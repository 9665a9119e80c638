/**
 * Fills the required fields a partial resource lacks with empty values (deep copy),
 * so set rules can read them the way Istio's analyzers read Go zero values: a route
 * with no destination has host "", a Gateway with no servers has none.
 */
import type { Schema } from './schema';
import { isPlainObject } from './shape';

export function withDefaults(schema: Schema, value: unknown): unknown {
  switch (schema.type) {
    case 'object': {
      const src = isPlainObject(value) ? value : {};
      const out: Record<string, unknown> = { ...src };
      for (const [key, field] of Object.entries(schema.fields)) {
        const v = src[key];
        if (v === undefined || v === null) {
          if (field.required) out[key] = emptyOf(field);
          else delete out[key];
        } else out[key] = withDefaults(field, v);
      }
      return out;
    }
    case 'array':
      return Array.isArray(value) ? value.map((item) => withDefaults(schema.items, item)) : [];
    case 'map':
      return isPlainObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withDefaults(schema.values, v)])) : {};
    default:
      return value;
  }
}

function emptyOf(schema: Schema): unknown {
  switch (schema.type) {
    case 'object':
    case 'array':
    case 'map':
      return withDefaults(schema, undefined);
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    default:
      return '';
  }
}
