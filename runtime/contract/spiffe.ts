/** SPIFFE identities as mast writes and reads them (no X.509 library needed: the proxy's hot path uses these). */

export const spiffeId = (trustDomain: string, namespace: string, serviceAccount: string) =>
  `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;

/** `spiffe://td/ns/x/sa/y` → the principal as AuthorizationPolicy writes it (`td/ns/x/sa/y`) and the namespace. */
export function peerIdentity(subjectAltName: string | undefined): { principal: string; namespace: string } | undefined {
  // Entry by entry (Node joins them with ", " and quotes any value with a comma or quote in it):
  // "URI:spiffe://" inside another entry (a DNS name may hold it), or split out of a quoted one, is not an identity.
  const entry = (subjectAltName ?? '').split(', ').find((e) => e.startsWith('URI:spiffe://'));
  const uri = entry && /^URI:spiffe:\/\/([^,\s"\\]+)$/.exec(entry)?.[1];
  const ns = uri && /^[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(uri)?.[1];
  return uri && ns ? { principal: uri, namespace: ns } : undefined;
}
