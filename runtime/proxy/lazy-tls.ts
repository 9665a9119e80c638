/**
 * `node:tls`, loaded the first time a proxy uses it rather than at start: from the moment it is
 * required it holds ≈ 5 MB resident (OpenSSL's start-up with it; measured on Node 24 beside
 * `net`) for as long as the process runs. A gateway without HTTPS listeners, or a sidecar before
 * its first certificate, pays nothing for it. (`child_process` is no such saving: every
 * `listen` loads `cluster`, which loads it.)
 */
import type * as Tls from 'node:tls';

export const tlsModule = (): typeof Tls => require('node:tls') as typeof Tls;
