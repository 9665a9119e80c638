/** Option parsing shared by the commands: node's parseArgs with errors that say what to do. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  readonly code = 'MAST_USAGE';
}

/** The parsed values, named so the package's declarations can spell them (node's own type is not exported). */
export type ParsedValues<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: false; strict: true }>
>['values'];

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, usage: string): ParsedValues<T> {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nUsage: ${usage}`);
  }
}
