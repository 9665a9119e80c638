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

/** `-f <file|dir>`, repeatable: the mesh YAML a command reads. */
export const FILE_OPTION = { type: 'string', short: 'f', multiple: true } as const;

/** The `-f` values given; none is a UsageError that says one is required. */
export function requireFiles(files: string[] | undefined, usage: string): string[] {
  if (!files?.length) throw new UsageError(`at least one -f <file|dir> is required\nUsage: ${usage}`);
  return files;
}
