/**
 * TLS origination (DestinationRule `tls.mode: SIMPLE`/`MUTUAL`): the proxy opens TLS to the
 * endpoint, presenting the rule's client certificate and checking the server against its CA (else
 * the system roots) for the SNI or `subjectAltNames`. The certificate and CA come from the rule's
 * files, read once per config, or from its `credentialName` Secret as mounted (gateway-tls.ts reads
 * it, as it reads a Gateway's), looked at again at most once a second so a replaced Secret serves
 * the next connections. What cannot be read fails the connection (503 `UF`), not the proxy.
 */
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import type * as tls from 'node:tls';
import { tlsModule } from '../lazy-tls';
import { clientTlsFiles } from '../gateway-tls';
import type { OriginateTls } from '../../contract/proxy-config';

/** How often a credentialName's mounted Secret is looked at again (kubelet replaces a mounted Secret's files whole). */
const CREDENTIAL_RECHECK_MS = 1000;

export class Origination {
  /** The rule's PEM files, read once. */
  private fileContext?: tls.SecureContext;
  /** A credentialName's context, what it was made of, and when the Secret's files were last looked at. */
  private credential?: { context: tls.SecureContext; contents: string; checkedAt: number };
  /** Why the last connection could not have a context (said once), until one is had again. */
  private failing?: string;

  constructor(
    private readonly o: OriginateTls,
    /** Where the Secrets named as `credentialName` are mounted (`--credentials-dir`). */
    private readonly credentialsDir: string,
  ) {}

  /** A TLS connection to `address:port`, or a socket that fails at once when the context cannot be had. */
  connect(address: string, port: number, alpn?: string[], onread?: net.OnReadOpts): net.Socket {
    const o = this.o;
    const tlsApi = tlsModule();
    let secureContext: tls.SecureContext;
    try {
      secureContext = o.credentialName ? this.credentialContext(o.credentialName) : this.filesContext();
      this.failing = undefined;
    } catch (err) {
      // Said once on stderr until it can be read again: the access log shows only 503 UF.
      const why = (err as Error).message;
      if (this.failing !== why)
        process.stderr.write(`mast-proxy: TLS origination to ${o.sni}: ${why}; its connections fail (503 UF) until it can be read\n`);
      this.failing = why;
      const failed = new net.Socket();
      process.nextTick(() => failed.destroy(err as Error));
      return failed;
    }
    const names = o.subjectAltNames;
    return tlsApi.connect({
      host: address,
      port,
      secureContext,
      ...(alpn ? { ALPNProtocols: alpn } : {}),
      ...(onread ? { onread } : {}),
      ...(net.isIP(o.sni) ? {} : { servername: o.sni }),
      rejectUnauthorized: !o.insecureSkipVerify,
      // The certificate must name the SNI host, or one of the rule's subjectAltNames (host names, or URIs such as SPIFFE ids).
      checkServerIdentity: (_host, cert) => {
        if (!names) return tlsApi.checkServerIdentity(o.sni, cert);
        const uris = (cert.subjectaltname ?? '')
          .split(', ')
          .filter((n) => n.startsWith('URI:'))
          .map((n) => n.slice(4));
        const named = (n: string) => (n.includes('://') ? uris.includes(n) : tlsApi.checkServerIdentity(n, cert) === undefined);
        return names.some(named) ? undefined : new Error(`the server certificate names none of ${names.join(', ')}`);
      },
    });
  }

  /** The rule's files; one that cannot be read throws, and is tried again on the next connection. */
  private filesContext(): tls.SecureContext {
    const o = this.o;
    this.fileContext ??= tlsModule().createSecureContext({
      ...(o.caCertificates ? { ca: readFileSync(o.caCertificates) } : {}),
      ...(o.clientCertificate ? { cert: readFileSync(o.clientCertificate) } : {}),
      ...(o.privateKey ? { key: readFileSync(o.privateKey) } : {}),
    });
    return this.fileContext;
  }

  /**
   * The mounted Secret's files. A Secret not (or no longer) mounted throws: the connection fails, as
   * Envoy's while SDS has not supplied the secret.
   */
  private credentialContext(name: string): tls.SecureContext {
    const now = Date.now();
    if (this.credential && now - this.credential.checkedAt < CREDENTIAL_RECHECK_MS) return this.credential.context;
    const files = clientTlsFiles(name, this.o.mode, !this.o.insecureSkipVerify, this.credentialsDir);
    if ('missing' in files) {
      this.credential = undefined;
      throw new Error(`TLS error: ${files.missing}`);
    }
    const [cert, key, ca] = [files.cert, files.key, files.ca].map((f) => (f ? readFileSync(f) : undefined));
    const contents = `${cert ?? ''}${key ?? ''}${ca ?? ''}`;
    if (this.credential?.contents === contents) {
      this.credential.checkedAt = now;
      return this.credential.context;
    }
    try {
      const context = tlsModule().createSecureContext({ ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) });
      this.credential = { context, contents, checkedAt: now };
    } catch (err) {
      // Half-written (a Secret update in progress, the new certificate beside the old key): the last good one, tried again next time.
      if (!this.credential) throw err;
    }
    return this.credential.context;
  }
}
