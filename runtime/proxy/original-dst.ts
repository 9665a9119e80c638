/**
 * The original destination of a connection iptables REDIRECTed to the sidecar, read with
 * SO_ORIGINAL_DST through a small N-API addon (native/original_dst.c). When the addon is not
 * there (not built, another OS) this answers undefined and the proxy routes by the Host header.
 */
import * as path from 'node:path';
import type * as net from 'node:net';

type Addon = { originalDst(fd: number): { address: string; port: number } | null };

let addon: Addon | null | undefined;

function load(): Addon | null {
  const candidates = [
    process.env.MAST_ORIGINAL_DST_ADDON,
    path.join(__dirname, 'original_dst.node'),
    path.join(__dirname, 'native', 'build', 'Release', 'original_dst.node'),
  ];
  for (const file of candidates) {
    if (!file) continue;
    try {
      // A runtime path: esbuild leaves this require to Node.
      return (module.require as (id: string) => Addon)(file);
    } catch {
      /* try the next place */
    }
  }
  return null;
}

export function originalDestination(socket: net.Socket): { address: string; port: number } | undefined {
  if (addon === undefined) addon = load();
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!addon || fd === undefined || fd < 0) return undefined;
  return addon.originalDst(fd) ?? undefined;
}

export const originalDstAvailable = (): boolean => (addon === undefined ? (addon = load()) : addon) !== null;
