/** Schemas shared by several resource kinds. */
import { arr, int, labels, map, num, obj, oneOf, regex, req, str, strs } from './schema';

export const stringMatch = obj({ exact: str(), prefix: str(), regex: regex() }, 'Exactly one of exact, prefix or regex (RE2).');
export const percent = obj({ value: num(undefined, undefined, 'Percentage, 0 to 100.') });
export const portSelector = obj({ number: int(1, 65535) });
export const destination = obj({ host: req(str('Service name, short or FQDN.')), subset: str(), port: portSelector });
export const headerOperations = obj({ set: labels(), add: labels(), remove: strs() });
export const headers = obj({ request: headerOperations, response: headerOperations });
/** `selector: { matchLabels }` as used by the security kinds and DestinationRule. */
export const workloadSelector = obj({ matchLabels: labels() });
export const exportTo = strs('Namespaces this resource is visible to; "." is its own, "*" all.');
export const portProtocol = str('HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP or TLS.');
export const tlsProtocolVersion = oneOf(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const);
export const stringMatchMap = map(stringMatch);
export const stringMatches = arr(stringMatch);

/** Protocols a port may name; Istio compares them case-insensitively. */
export const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP'] as const;
