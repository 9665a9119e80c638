/**
 * A gateway's HTTPS certificates (Gateway `tls` SIMPLE and MUTUAL): the files a listener serves
 * from (its own paths, or its `credentialName`'s mounted Secret), loaded into a TLS context, and
 * re-read as they are renewed on disk.
 */
import type * as tls from 'node:tls';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlsModule } from './lazy-tls';
import type { ListenerConfig } from '../contract/proxy-config';

/**
 * Where a gateway finds the Secrets its Gateways name as `credentialName`, one directory each
 * (`tls.crt`, `tls.key`, `ca.crt`): the IngressGateway construct mounts them there.
 */
export { CREDENTIALS_DIR as DEFAULT_CREDENTIALS_DIR } from '../../api/well-known';

export type TlsFiles = { readonly cert: string; readonly key: string; readonly ca?: string };
/** The files, the context made of them, and what they held (to tell a renewal). */
export type LoadedTls = TlsFiles & { readonly context: tls.SecureContext; readonly contents: string };

/** The files a TLS listener serves from, or why it cannot be served (then it is not: never in plaintext). */
export function tlsFiles(lc: ListenerConfig, credentialsDir: string): TlsFiles | { skip: string } {
  const t = lc.tls!;
  const mutual = t.mode === 'MUTUAL';
  if (t.certificateFile && t.keyFile) {
    if (mutual && !t.caFile) return { skip: 'TLS MUTUAL without caCertificates cannot verify clients' };
    return { cert: t.certificateFile, key: t.keyFile, ...(mutual ? { ca: t.caFile } : {}) };
  }
  if (!t.credentialName) return { skip: 'TLS without serverCertificate/privateKey or credentialName' };
  const dir = join(credentialsDir, t.credentialName);
  const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ...(mutual ? { ca: t.caFile ?? join(dir, 'ca.crt') } : {}) };
  const missing = [files.cert, files.key, ...(files.ca ? [files.ca] : [])].filter((f) => !existsSync(f));
  if (missing.length) {
    const why = `the Secret is not mounted (${missing.join(', ')} missing; the IngressGateway construct mounts the Secrets its Gateways name)`;
    return { skip: `TLS credentialName ${JSON.stringify(t.credentialName)}: ${why}` };
  }
  return files;
}

export function loadTls(f: TlsFiles): LoadedTls {
  const cert = readFileSync(f.cert);
  const key = readFileSync(f.key);
  const ca = f.ca ? readFileSync(f.ca) : undefined;
  return { ...f, context: tlsModule().createSecureContext({ cert, key, ...(ca ? { ca } : {}) }), contents: `${cert}${key}${ca ?? ''}` };
}

/** A listener serving TLS: its files as loaded, and the context new connections get. */
export interface TlsHolder {
  tlsFiles?: LoadedTls;
  secureContext?: tls.SecureContext;
}

/**
 * Certificates are renewed on disk (kubelet updates a mounted Secret; cert-manager renews it):
 * each listener whose files changed gets a context of the new ones (new connections use it).
 * Answers how many changed.
 */
export function reloadTls(listeners: Iterable<TlsHolder>): number {
  let changed = 0;
  for (const l of listeners) {
    const f = l.tlsFiles;
    if (!f) continue;
    try {
      const next = loadTls(f);
      if (next.contents === f.contents) continue;
      l.secureContext = next.context;
      l.tlsFiles = next;
      changed++;
    } catch {
      // Half-written (a Secret update in progress): keep serving the last good one, try again later.
    }
  }
  return changed;
}

/** Some listener skipped for want of its Secret (`skipped`: "<name>: why") now has its files. */
export function skippedNowMounted(listeners: readonly ListenerConfig[], skipped: readonly string[], credentialsDir: string): boolean {
  return listeners.some((lc) => lc.tls && !('skip' in tlsFiles(lc, credentialsDir)) && skipped.some((s) => s.startsWith(`${lc.name}:`)));
}
