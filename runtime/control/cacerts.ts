/**
 * Istio's plug-in CA files (the `cacerts` Secret's keys): ca-cert.pem and ca-key.pem sign,
 * root-cert.pem is the trust anchor, cert-chain.pem the chain up to it. From a directory (the
 * Secret mounted at /etc/cacerts in a cluster) or from a Secret's keys (`mast local`'s input).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PluggedCa } from './ca';

/** The CA in `files` (name → text); undefined without both ca-cert.pem and ca-key.pem. Pure. */
export function pluggedCaOf(files: ReadonlyMap<string, string>): PluggedCa | undefined {
  const certPem = files.get('ca-cert.pem');
  const keyPem = files.get('ca-key.pem');
  if (!certPem || !keyPem) return undefined;
  const rootPem = files.get('root-cert.pem');
  const chainPem = files.get('cert-chain.pem');
  return { certPem, keyPem, ...(rootPem ? { rootPem } : {}), ...(chainPem ? { chainPem } : {}) };
}

/** The plugged-in CA of a mounted `cacerts` Secret; undefined when `dir` holds none. */
export function readCacertsDir(dir: string): PluggedCa | undefined {
  const names = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'];
  return pluggedCaOf(new Map(names.filter((n) => existsSync(join(dir, n))).map((n) => [n, readFileSync(join(dir, n), 'utf8')])));
}
