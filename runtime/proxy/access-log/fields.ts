/**
 * What a kind of record (a request's, a TCP connection's) gives the access log's operators: the
 * shape format.ts compiles a format against, and tcp-fields.ts fills for connections.
 */

/** An operator's value: text, a number, or nothing (`-`, null in JSON). */
export type Value = string | number | undefined;
/** An operator's value for one record, given the wall clock when it finished. */
export type Getter<R> = (r: R, now: number) => Value;

/** A value per operator name, and the record's request headers (REQ). */
export interface Fields<R> {
  readonly values: Readonly<Record<string, Getter<R>>>;
  readonly header: (r: R, name: string) => string | undefined;
  /** When the record's request (or connection) started, in ms since the epoch: START_TIME(fmt)'s. */
  readonly start: (r: R, now: number) => number;
}
