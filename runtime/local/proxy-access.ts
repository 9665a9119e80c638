/**
 * `mast local --intercept` runs each sidecar as uid 1337 (the capture rules let that uid's traffic
 * out uncaptured, as in a pod). From the installed package the sidecar runs the compiled proxy where
 * npm put it, so every folder above it must let other users through: a project under a 0700 home
 * folder (root's /root, a mkdtemp folder) does not, and each sidecar would die with "Cannot find
 * module". Checked once at start, with the reason, instead.
 */
import { statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** Raised when the sidecars' uid cannot read the proxy; `code` is stable. */
export class ProxyAccessError extends Error {
  readonly code = 'MAST_PROXY_UNREADABLE';
}

type Stat = (path: string) => Pick<Stats, 'mode' | 'uid' | 'gid'>;

/** May `uid` (in group `gid`) use `path` with the permission bits `want` (4 read, 1 search)? */
function allowed(s: ReturnType<Stat>, uid: number, gid: number, want: number): boolean {
  const bits = s.uid === uid ? (s.mode >> 6) & 7 : s.gid === gid ? (s.mode >> 3) & 7 : s.mode & 7;
  return (bits & want) === want;
}

/** The first place on `file`'s path that `uid` cannot pass or read, or undefined when it can read the file. */
export function unreadableOnPath(file: string, uid: number, gid = uid, stat: Stat = statSync): string | undefined {
  if (!allowed(stat(file), uid, gid, 4)) return file;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (!allowed(stat(dir), uid, gid, 1)) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Throws ProxyAccessError when the sidecars (uid 1337) could not read `proxy`. */
export function assertSidecarCanRead(proxy: string, uid = 1337): void {
  const blocked = unreadableOnPath(proxy, uid);
  if (blocked)
    throw new ProxyAccessError(
      `--intercept runs the sidecars as uid ${uid}, which cannot reach ${proxy}: ${blocked} lets no other user ` +
        `${blocked === proxy ? 'read it' : 'through'} (chmod o+rx ${blocked}, or move the project out of a private folder)`,
    );
}
