/**
 * A small schema language: the single source of truth for the mesh API.
 * From one definition we get the TypeScript type (`Infer`), the shape check of
 * `validate()` (unknown fields, wrong types, enums, ranges) and the CRD's
 * structural OpenAPI v3 schema (`toOpenApi`). Writing the types twice would let
 * them drift; this keeps them one thing.
 */

export type Schema =
  | StringSchema
  | IntegerSchema
  | NumberSchema
  | BooleanSchema
  | EnumSchema
  | ArraySchema
  | MapSchema
  | ObjectSchema
  | IntOrStringSchema;

interface Base {
  /** Short description, copied into the CRD. */
  readonly doc?: string;
  /** Marks a field an object must have. */
  readonly required?: boolean;
}
export interface StringSchema extends Base {
  readonly type: 'string';
  readonly format?: 'duration' | 'regex';
}
export interface IntegerSchema extends Base {
  readonly type: 'integer';
  readonly minimum?: number;
  readonly maximum?: number;
}
export interface NumberSchema extends Base {
  readonly type: 'number';
  readonly minimum?: number;
  readonly maximum?: number;
}
export interface BooleanSchema extends Base {
  readonly type: 'boolean';
}
export interface EnumSchema<V extends string = string> extends Base {
  readonly type: 'enum';
  readonly values: readonly V[];
}
export interface ArraySchema<I extends Schema = Schema> extends Base {
  readonly type: 'array';
  readonly items: I;
}
export interface MapSchema<V extends Schema = Schema> extends Base {
  readonly type: 'map';
  readonly values: V;
}
export interface ObjectSchema<F extends Fields = Fields> extends Base {
  readonly type: 'object';
  readonly fields: F;
}
export interface IntOrStringSchema extends Base {
  readonly type: 'int-or-string';
}
export type Fields = { readonly [name: string]: Schema };

type Req<S> = S & { readonly required: true };
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The TypeScript type a schema describes. */
export type Infer<S> = S extends StringSchema
  ? string
  : S extends IntegerSchema | NumberSchema
    ? number
    : S extends BooleanSchema
      ? boolean
      : S extends EnumSchema<infer V>
        ? V
        : S extends ArraySchema<infer I>
          ? Infer<I>[]
          : S extends MapSchema<infer V>
            ? { [key: string]: Infer<V> }
            : S extends IntOrStringSchema
              ? number | string
              : S extends ObjectSchema<infer F>
                ? InferFields<F>
                : never;

type InferFields<F extends Fields> = Simplify<
  { [K in keyof F as F[K] extends { required: true } ? K : never]: Infer<F[K]> } & {
    [K in keyof F as F[K] extends { required: true } ? never : K]?: Infer<F[K]>;
  }
>;

export const str = (doc?: string, format?: StringSchema['format']): StringSchema => ({ type: 'string', doc, format });
export const duration = (doc?: string): StringSchema => str(doc, 'duration');
export const regex = (doc?: string): StringSchema => str(doc, 'regex');
export const int = (minimum?: number, maximum?: number, doc?: string): IntegerSchema => ({ type: 'integer', minimum, maximum, doc });
export const num = (minimum?: number, maximum?: number, doc?: string): NumberSchema => ({ type: 'number', minimum, maximum, doc });
export const bool = (doc?: string): BooleanSchema => ({ type: 'boolean', doc });
export const oneOf = <V extends string>(values: readonly V[], doc?: string): EnumSchema<V> => ({ type: 'enum', values, doc });
export const arr = <I extends Schema>(items: I, doc?: string): ArraySchema<I> => ({ type: 'array', items, doc });
export const strs = (doc?: string): ArraySchema<StringSchema> => arr(str(), doc);
export const map = <V extends Schema>(values: V, doc?: string): MapSchema<V> => ({ type: 'map', values, doc });
export const labels = (doc?: string): MapSchema<StringSchema> => map(str(), doc);
export const obj = <F extends Fields>(fields: F, doc?: string): ObjectSchema<F> => ({ type: 'object', fields, doc });
export const intOrString = (doc?: string): IntOrStringSchema => ({ type: 'int-or-string', doc });
/** The same schema, marked as a field its object must have. */
export const req = <S extends Schema>(schema: S): Req<S> => ({ ...schema, required: true });

/** Describes a schema type in words, for error messages. */
export function describe(schema: Schema): string {
  switch (schema.type) {
    case 'enum':
      return `one of ${schema.values.join(', ')}`;
    case 'map':
      return `a map of ${describe(schema.values)}`;
    case 'array':
      return `a list of ${describe(schema.items)}`;
    case 'int-or-string':
      return 'an integer or a string';
    case 'object':
      return 'an object';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    default:
      return `a ${schema.type}`;
  }
}
