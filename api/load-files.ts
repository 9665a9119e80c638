/** Loads YAML from files and directories (recursively, `.yaml`/`.yml`, in name order). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml, type LoadResult } from './load';
import { finding, type Finding } from './findings';
import type { KubeObject } from './resources';

export function yamlFilesIn(path: string): string[] {
  const stat = statSync(path);
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => {
      const full = join(path, entry);
      return statSync(full).isDirectory() ? yamlFilesIn(full) : /\.ya?ml$/.test(entry) ? [full] : [];
    });
}

export class InputNotFoundError extends Error {
  readonly code = 'MAST_INPUT_NOT_FOUND';
  constructor(readonly path: string) {
    super(`no such file or directory: ${path}`);
  }
}

/**
 * A file longer than this is not read at all (MAST0011): a watched directory is an input from
 * whoever can write to it, and its size is known before a byte of it is held in memory.
 */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Loads every YAML file under `paths`. With `lastGood` (a file source keeps one from read to read),
 * a file refused for its size keeps what it held when it was last read whole, as an edit the API
 * server refuses leaves the stored object as it was.
 */
export function loadFiles(paths: readonly string[], lastGood?: Map<string, LoadResult>): LoadResult {
  const objects: KubeObject[] = [];
  const findings: Finding[] = [];
  for (const path of paths) {
    let files: string[];
    try {
      files = yamlFilesIn(path);
    } catch {
      throw new InputNotFoundError(path);
    }
    for (const file of files) {
      const size = statSync(file).size;
      if (size > MAX_FILE_BYTES) {
        const kept = lastGood?.get(file);
        const message = `the file is ${size.toLocaleString('en-US')} bytes and was not read: at most ${MAX_FILE_BYTES.toLocaleString('en-US')}${kept ? '; what it held when last read is kept' : ''}`;
        findings.push({ ...finding('MAST0011', { kind: 'YAML' }, '', message), name: file, file, line: 1 });
        if (kept) objects.push(...kept.objects);
        continue;
      }
      const result = loadYaml(readFileSync(file, 'utf8'), file);
      lastGood?.set(file, result);
      objects.push(...result.objects);
      findings.push(...result.findings);
    }
  }
  return { objects, findings };
}
