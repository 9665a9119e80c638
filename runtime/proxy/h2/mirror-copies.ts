/**
 * The mirrors' copies of an HTTP/2 stream's request, as HTTP/1.1 requests (mirror.ts speaks
 * HTTP/1.1): the shadow authority (shadowAuthority), `x-mast-mirror`, the body with the client's
 * length when it gave one, else chunked. Each copy takes the body as it streams.
 */
import type { ExchangeContext, MirrorBody } from '../request/context';
import { shadowAuthority } from '../request/upstream-head';
import { chunkedCopy } from '../mirror';
import type { HeaderList, UpstreamRequest } from './headers';
import { requestHead } from './upstream-h1';

export function mirrorCopies(
  ctx: ExchangeContext,
  clusters: readonly string[],
  u: UpstreamRequest,
  withBody: boolean,
  length: string | undefined,
): MirrorBody[] | undefined {
  const shadow = {
    ...u,
    authority: shadowAuthority(u.authority),
    headers: [...u.headers, ['x-mast-mirror', 'true']] satisfies HeaderList,
  };
  const head = requestHead(shadow, withBody, length);
  let copies: MirrorBody[] | undefined;
  for (const m of clusters) {
    const copy = ctx.mirror(m, u.method, head, withBody);
    if (copy) (copies ??= []).push(length === undefined ? chunkedCopy(copy) : copy);
  }
  return copies;
}
