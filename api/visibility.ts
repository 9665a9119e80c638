/** `exportTo`: which namespaces see a resource. Empty means all; "." its own; "*" all. */

export type ExportScope = '*' | ReadonlySet<string>;

export function exportScopes(exportTo: readonly string[] | undefined, ownNamespace: string): ExportScope {
  if (!exportTo || exportTo.length === 0 || exportTo.includes('*')) return '*';
  return new Set(exportTo.map((e) => (e === '.' ? ownNamespace : e)));
}

export function visibleIn(scope: ExportScope, namespace: string): boolean {
  return scope === '*' || scope.has(namespace);
}

/** Is there a namespace that sees both? */
export function scopesOverlap(a: ExportScope, b: ExportScope): boolean {
  if (a === '*') return b === '*' || b.size > 0;
  if (b === '*') return a.size > 0;
  return [...a].some((ns) => b.has(ns));
}
