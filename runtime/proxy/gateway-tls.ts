/**
 * A gateway's HTTPS certificates (Gateway `tls` SIMPLE, MUTUAL, OPTIONAL_MUTUAL): the files a
 * server is served from (its own paths, or its `credentialName`'s mounted Secret, in either of
 * the forms Istio reads), loaded into a TLS context, and re-read as they are renewed on disk. The
 * same mounted Secrets give TLS origination its client credential (DestinationRule `credentialName`).
 */
import type * as tls from 'node:tls';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tlsModule } from './lazy-tls';
import { resumableSessions } from './peer-tls';
import type { ServerTlsConfig } from '../contract/proxy-config';

/**
 * Where a gateway finds the Secrets its Gateways name as `credentialName`, one directory each,
 * one file per key of the Secret (as kubelet mounts it): the IngressGateway construct mounts them there.
 */
export { CREDENTIALS_DIR as DEFAULT_CREDENTIALS_DIR } from '../../api/well-known';

/**
 * The keys of a credential Secret, in Istio's order: the generic form (`cert`, `key`, `cacert`)
 * before the `kubernetes.io/tls` one (`tls.crt`, `tls.key`, `ca.crt`). For MUTUAL the CA comes
 * from the Secret `<name>-cacert` when there is one, else from the Secret itself.
 */
const CERT_KEYS = [
  ['cert', 'key'],
  ['tls.crt', 'tls.key'],
] as const;
const CA_KEYS = ['cacert', 'ca.crt'] as const;
const CA_SECRET_SUFFIX = '-cacert';
/** A Kubernetes Secret's name (DNS-1123 subdomain). */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export type TlsFiles = { readonly cert: string; readonly key: string; readonly ca?: string };
/** The files, the context made of them, and what they held (to tell a renewal). */
export type LoadedTls = TlsFiles & { readonly context: tls.SecureContext; readonly contents: string };

const present = (file: string) => {
  try {
    return statSync(file).size > 0;
  } catch {
    return false;
  }
};

/** Verifies clients: MUTUAL requires a certificate, OPTIONAL_MUTUAL checks one if given. */
const verifies = (t: ServerTlsConfig) => t.mode === 'MUTUAL' || t.mode === 'OPTIONAL_MUTUAL';

/** A credential Secret's certificate and key files, in either form, or undefined. */
function certificatePair(name: string, credentialsDir: string): readonly [string, string] | undefined {
  const dir = join(credentialsDir, name);
  return CERT_KEYS.map(([c, k]) => [join(dir, c), join(dir, k)] as const).find(([c, k]) => present(c) && present(k));
}

/** A credential's CA file: from the Secret `<name>-cacert` when there is one, else from the Secret itself. */
function caFileOf(name: string, credentialsDir: string): string | undefined {
  return [join(credentialsDir, `${name}${CA_SECRET_SUFFIX}`), join(credentialsDir, name)]
    .flatMap((d) => CA_KEYS.map((k) => join(d, k)))
    .find(present);
}

/** The files a TLS server is served from, or why it cannot be served (then it is not: never in plaintext). */
export function tlsFiles(t: ServerTlsConfig, credentialsDir: string): TlsFiles | { skip: string } {
  const mutual = verifies(t);
  if (t.certificateFile && t.keyFile) {
    if (mutual && !t.caFile) return { skip: `TLS ${t.mode} without caCertificates cannot verify clients` };
    return { cert: t.certificateFile, key: t.keyFile, ...(mutual ? { ca: t.caFile } : {}) };
  }
  if (!t.credentialName) return { skip: 'TLS without serverCertificate/privateKey or credentialName' };
  const name = JSON.stringify(t.credentialName);
  const pair = certificatePair(t.credentialName, credentialsDir);
  if (!pair)
    return {
      skip: `TLS credentialName ${name}: no Secret with cert/key or tls.crt/tls.key in ${join(credentialsDir, t.credentialName)} (the IngressGateway construct mounts the Secrets its Gateways name)`,
    };
  if (!mutual) return { cert: pair[0], key: pair[1] };
  const ca = t.caFile ?? caFileOf(t.credentialName, credentialsDir);
  if (!ca)
    return {
      skip: `TLS ${t.mode} credentialName ${name}: no CA (cacert or ca.crt) in it or in the Secret ${t.credentialName}${CA_SECRET_SUFFIX}`,
    };
  return { cert: pair[0], key: pair[1], ca };
}

/** The files of a client's credential (TLS origination): its certificate and key (MUTUAL) and the CA the server is checked against. */
export type ClientTlsFiles = { readonly cert?: string; readonly key?: string; readonly ca?: string };

/**
 * A DestinationRule `credentialName` as TLS origination reads it (Istio's SDS resources `<name>` and
 * `<name>-cacert`): MUTUAL needs the certificate and key, and both modes the CA unless the server
 * is not verified. Or why not: then the connection fails, as Envoy's does while a secret is not supplied.
 */
export function clientTlsFiles(
  name: string,
  mode: 'SIMPLE' | 'MUTUAL',
  verify: boolean,
  credentialsDir: string,
): ClientTlsFiles | { missing: string } {
  // Only a Secret's name becomes a path (not `kubernetes://...`, nor `..`): anything else is never mounted.
  if (!SECRET_NAME.test(name)) return { missing: `credentialName ${JSON.stringify(name)}: not a Secret name mounted here` };
  const pair = mode === 'MUTUAL' ? certificatePair(name, credentialsDir) : undefined;
  if (mode === 'MUTUAL' && !pair)
    return {
      missing: `credentialName ${JSON.stringify(name)}: no Secret with cert/key or tls.crt/tls.key in ${join(credentialsDir, name)}`,
    };
  const ca = verify ? caFileOf(name, credentialsDir) : undefined;
  if (verify && !ca)
    return {
      missing: `credentialName ${JSON.stringify(name)}: no CA (cacert or ca.crt) in it or in the Secret ${name}${CA_SECRET_SUFFIX}`,
    };
  return { ...(pair ? { cert: pair[0], key: pair[1] } : {}), ...(ca ? { ca } : {}) };
}

export function loadTls(f: TlsFiles): LoadedTls {
  const cert = readFileSync(f.cert);
  const key = readFileSync(f.key);
  const ca = f.ca ? readFileSync(f.ca) : undefined;
  const context = tlsModule().createSecureContext({
    cert,
    key,
    ...(ca ? { ca } : {}),
    // A MUTUAL client resuming its session (as browsers and curl do) is not cut off (peer-tls.ts).
    ...resumableSessions('mast-gateway-tls'),
  });
  return { ...f, context, contents: `${cert}${key}${ca ?? ''}` };
}

/** A server serving TLS: its settings, its files as loaded, and the context new connections get. */
export interface TlsHolder {
  readonly tlsSettings: ServerTlsConfig;
  tlsFiles: LoadedTls;
  secureContext: tls.SecureContext;
}

/**
 * Certificates are renewed on disk (kubelet updates a mounted Secret; cert-manager renews it;
 * `mast local` writes the Secrets of its input): each server whose files changed gets a context of
 * the new ones (new connections use it). Answers how many changed, and whether some server's
 * credential is gone (its Secret deleted: the config is applied again, and that server left out).
 */
export function reloadTls(holders: Iterable<TlsHolder>, credentialsDir: string): { changed: number; gone: boolean } {
  let changed = 0;
  let gone = false;
  for (const h of holders) {
    const files = tlsFiles(h.tlsSettings, credentialsDir);
    if ('skip' in files) {
      gone = true;
      continue;
    }
    try {
      const next = loadTls(files);
      if (next.contents === h.tlsFiles.contents) continue;
      h.secureContext = next.context;
      h.tlsFiles = next;
      changed++;
    } catch {
      // Half-written (a Secret update in progress): keep serving the last good one, try again later.
    }
  }
  return { changed, gone };
}
