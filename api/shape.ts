/** Checks a value against its schema: unknown fields, wrong types, enums, ranges, formats. */
import { describe, type Schema } from './schema';
import { isToken } from './tokens';
import { parseDuration } from './duration';
import { checkRe2 } from './regex';
import type { Code } from './findings';
import { PROTOCOLS } from './common';

export interface ShapeIssue {
  readonly code: Code;
  readonly path: string;
  readonly message: string;
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};
const typeOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`);
/** `a.b`, or `a["x.y"]` when the key is not a plain identifier. */
export const child = (path: string, key: string): string =>
  /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;

export function checkShape(schema: Schema, value: unknown, path: string, out: ShapeIssue[] = []): ShapeIssue[] {
  if (isToken(value)) return out;
  const wrong = () => out.push({ code: 'MAST0002', path, message: `expected ${describe(schema)}, got ${typeOf(value)} ${show(value)}` });
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') wrong();
      else checkFormat(schema.format, value, path, out);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') wrong();
      break;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value))) wrong();
      else if ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum))
        out.push({ code: 'MAST0005', path, message: `${value} is outside ${schema.minimum ?? '-inf'}..${schema.maximum ?? 'inf'}` });
      break;
    case 'int-or-string':
      if (typeof value !== 'string' && !Number.isInteger(value)) wrong();
      break;
    case 'enum':
      if (typeof value !== 'string') wrong();
      else if (!schema.values.includes(value)) out.push({ code: 'MAST0004', path, message: `${show(value)} is not ${describe(schema)}` });
      break;
    case 'array':
      if (!Array.isArray(value)) wrong();
      else value.forEach((item, i) => checkShape(schema.items, item, `${path}[${i}]`, out));
      break;
    case 'map':
      if (!isPlainObject(value)) wrong();
      else for (const [key, item] of Object.entries(value)) checkShape(schema.values, item, child(path, key), out);
      break;
    case 'object':
      if (!isPlainObject(value)) {
        wrong();
        break;
      }
      for (const [key, item] of Object.entries(value)) {
        const field = schema.fields[key];
        if (!field) {
          const known = Object.keys(schema.fields);
          out.push({ code: 'MAST0001', path: child(path, key), message: `unknown field "${key}"${suggest(key, known)}` });
        } else if (item !== null && item !== undefined) checkShape(field, item, child(path, key), out);
      }
      for (const [key, field] of Object.entries(schema.fields))
        if (field.required && (value[key] === undefined || value[key] === null))
          out.push({ code: 'MAST0003', path: child(path, key), message: `"${key}" is required` });
      break;
  }
  return out;
}

function checkFormat(format: string | undefined, value: string, path: string, out: ShapeIssue[]): void {
  if (format === 'duration') {
    const ms = parseDuration(value);
    if (ms === undefined) out.push({ code: 'MAST0106', path, message: `${show(value)} is not a duration (e.g. "10s", "250ms", "1h")` });
    else if (ms < 1 && ms !== 0) out.push({ code: 'MAST0106', path, message: `${show(value)} is shorter than 1ms` });
  } else if (format === 'regex') {
    const reason = checkRe2(value);
    if (reason) out.push({ code: 'MAST0105', path, message: `${show(value)} is not a valid RE2 pattern: ${reason}` });
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Port protocols are compared case-insensitively, as Istio does. */
export function isKnownProtocol(value: string): boolean {
  return (PROTOCOLS as readonly string[]).includes(value.toUpperCase());
}

/** ` (did you mean "x"?)` for a close known name, else empty. */
function suggest(key: string, known: string[]): string {
  const lower = key.toLowerCase();
  const close = known.find((k) => k.toLowerCase() === lower || distance(k.toLowerCase(), lower) <= 2);
  return close ? ` (did you mean "${close}"?)` : '';
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
