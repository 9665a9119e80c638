/**
 * Which of a gateway port's filter chains a TLS connection gets, by the server name of its
 * ClientHello, as Envoy's `filter_chain_match.server_names` chooses: the exact name first, then
 * wildcards from the narrowest (`*.b.example.com`, then `*.example.com`, then `*.com`), then a
 * chain that names none (or `*`), which alone also takes a client that sent no name. No chain:
 * Envoy closes the connection. Pure.
 */

export interface NamedChain {
  /** Lower case; empty (or `*`): every name, and none. */
  readonly serverNames: readonly string[];
}

export function chainFor<C extends NamedChain>(chains: readonly C[], serverName: string | undefined): C | undefined {
  if (serverName) {
    const name = serverName.toLowerCase();
    const exact = chains.find((c) => c.serverNames.includes(name));
    if (exact) return exact;
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const wildcard = `*${name.slice(dot)}`;
      const hit = chains.find((c) => c.serverNames.includes(wildcard));
      if (hit) return hit;
    }
  }
  return chains.find((c) => c.serverNames.length === 0 || c.serverNames.includes('*'));
}
