import { isIP } from 'node:net';

/** The names and addresses in the push port's certificate: mastd's Service names in its namespace, loopback, and any given. */
export function pushNames(namespace: string, more = ''): { names: string[]; addresses: string[] } {
  const all = [
    'mastd',
    `mastd.${namespace}`,
    `mastd.${namespace}.svc`,
    `mastd.${namespace}.svc.cluster.local`,
    'localhost',
    '127.0.0.1',
    '::1',
    ...more
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
  ];
  const unique = [...new Set(all)];
  const bad = unique.find((n) => !isIP(n) && !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(n));
  if (bad !== undefined) throw new Error(`--push-names: "${bad}" is not a DNS name or an IP address`);
  return { names: unique.filter((n) => !isIP(n)), addresses: unique.filter((n) => isIP(n)) };
}
