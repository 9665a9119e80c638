/** Loads YAML from files and directories (recursively, `.yaml`/`.yml`, in name order). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml, type LoadResult } from './load';
import type { Finding } from './findings';
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

export function loadFiles(paths: readonly string[]): LoadResult {
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
      const result = loadYaml(readFileSync(file, 'utf8'), file);
      objects.push(...result.objects);
      findings.push(...result.findings);
    }
  }
  return { objects, findings };
}
