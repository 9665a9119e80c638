/**
 * Config from files: a set of YAML files and directories, re-read when they change.
 * Changes are debounced (default 100 ms) so a burst of edits becomes one snapshot.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { statSync } from 'node:fs';
import { loadFiles, yamlFilesIn, type Finding, type KubeObject, type LoadResult } from '../../api';

export interface SourceUpdate {
  readonly objects: KubeObject[];
  /** YAML syntax errors: the documents they hit are skipped. */
  readonly findings: Finding[];
}

export interface ConfigSource {
  start(onUpdate: (update: SourceUpdate) => void): void;
  stop(): void;
}

export class FileSource implements ConfigSource {
  private watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  /** Each file as last read whole: kept while an edit makes it too large to read. */
  private readonly lastGood = new Map<string, LoadResult>();

  constructor(
    private readonly paths: readonly string[],
    private readonly debounceMs = 100,
  ) {}

  start(onUpdate: (update: SourceUpdate) => void): void {
    const read = () => {
      try {
        onUpdate(loadFiles(this.paths, this.lastGood));
      } catch (err) {
        onUpdate({
          objects: [],
          findings: [
            { code: 'MAST0008', severity: 'Error', kind: 'YAML', name: String(this.paths), path: '', message: (err as Error).message },
          ],
        });
      }
    };
    const changed = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(read, this.debounceMs);
    };
    // Watch every directory that holds (or is) an input: editors replace files, so watching files alone misses edits.
    const dirs = new Set<string>();
    for (const p of this.paths) {
      const isDir = statSync(p).isDirectory();
      dirs.add(isDir ? p : dirname(p));
      if (isDir) for (const f of yamlFilesIn(p)) dirs.add(dirname(f));
    }
    this.watchers = [...dirs].map((d) => watch(d, changed));
    read();
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
