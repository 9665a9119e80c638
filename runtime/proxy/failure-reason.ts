/**
 * Why a socket or an HTTP/2 stream failed, in a word where Node has one (its code: ECONNREFUSED,
 * CERT_SIGNATURE_FAILURE...), else its message. A stream cancelled because its session failed
 * gives the session's reason.
 */
export function failureReason(err: Error): string {
  // Not `instanceof Error`: Node's own errors may come from another realm (a test's sandbox).
  const e =
    (err as NodeJS.ErrnoException).code === 'ERR_HTTP2_STREAM_CANCEL' && typeof err.cause === 'object' && err.cause !== null
      ? (err.cause as Error)
      : err;
  return (e as NodeJS.ErrnoException).code ?? e.message;
}
