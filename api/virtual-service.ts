/** networking.istio.io/v1 VirtualService: how requests for a host are routed. */
import { arr, bool, duration, int, labels, obj, oneOf, regex, req, str, strs, type Infer } from './schema';
import { destination, exportTo, headers, percent, stringMatch, stringMatches, stringMatchMap } from './common';

export const httpMatch = obj({
  name: str(),
  uri: stringMatch,
  scheme: stringMatch,
  method: stringMatch,
  authority: stringMatch,
  headers: stringMatchMap,
  withoutHeaders: stringMatchMap,
  queryParams: stringMatchMap,
  port: int(1, 65535),
  sourceLabels: labels(),
  sourceNamespace: str(),
  gateways: strs(),
  ignoreUriCase: bool(),
  statPrefix: str(),
});

export const httpRouteDestination = obj({ destination: req(destination), weight: int(0), headers });

export const httpRedirect = obj({
  uri: str(),
  authority: str(),
  port: int(1, 65535),
  derivePort: oneOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'] as const),
  scheme: str(),
  redirectCode: int(300, 399),
});

export const httpDirectResponse = obj({
  status: req(int(200, 599)),
  body: obj({ string: str(), bytes: str() }),
});

export const httpRewrite = obj({
  uri: str(),
  authority: str(),
  uriRegexRewrite: obj({ match: req(regex()), rewrite: req(str()) }),
});

export const httpRetry = obj({
  attempts: int(0),
  perTryTimeout: duration(),
  retryOn: str('Comma-separated conditions: 5xx, gateway-error, connect-failure, reset, retriable-4xx...'),
  retryRemoteLocalities: bool(),
  retryIgnorePreviousHosts: bool(),
  backoff: duration(),
});

export const httpFault = obj({
  delay: obj({ fixedDelay: duration(), percentage: percent, percent: int(0, 100) }),
  abort: obj({ httpStatus: int(200, 599), grpcStatus: str(), http2Error: str(), percentage: percent }),
});

export const corsPolicy = obj({
  allowOrigins: stringMatches,
  allowMethods: strs(),
  allowHeaders: strs(),
  exposeHeaders: strs(),
  maxAge: duration(),
  allowCredentials: bool(),
  unmatchedPreflights: oneOf(['UNSPECIFIED', 'FORWARD', 'IGNORE'] as const),
});

export const httpRoute = obj({
  name: str(),
  match: arr(httpMatch),
  route: arr(httpRouteDestination),
  redirect: httpRedirect,
  directResponse: httpDirectResponse,
  delegate: obj({ name: str(), namespace: str() }),
  rewrite: httpRewrite,
  timeout: duration(),
  retries: httpRetry,
  fault: httpFault,
  mirror: destination,
  mirrorPercentage: percent,
  /** Deprecated in Istio, still accepted: an integer percentage, used when mirrorPercentage is not set. */
  mirrorPercent: int(0, 100),
  mirrors: arr(obj({ destination: req(destination), percentage: percent })),
  corsPolicy,
  headers,
});

export const routeDestination = obj({ destination: req(destination), weight: int(0) });

export const tlsRoute = obj({
  match: req(
    arr(
      obj({
        sniHosts: req(strs()),
        destinationSubnets: strs(),
        port: int(1, 65535),
        sourceLabels: labels(),
        gateways: strs(),
        sourceNamespace: str(),
      }),
    ),
  ),
  route: arr(routeDestination),
});

export const tcpRoute = obj({
  match: arr(
    obj({
      destinationSubnets: strs(),
      port: int(1, 65535),
      sourceLabels: labels(),
      gateways: strs(),
      sourceNamespace: str(),
      sourceSubnet: str(),
    }),
  ),
  route: arr(routeDestination),
});

export const virtualServiceSpec = obj({
  hosts: strs('Hosts this applies to: short names, FQDNs, "*." wildcards.'),
  gateways: strs('[namespace/]gateway names; "mesh" means the sidecars (the default).'),
  http: arr(httpRoute),
  tls: arr(tlsRoute),
  tcp: arr(tcpRoute),
  exportTo,
});

export type VirtualServiceSpec = Infer<typeof virtualServiceSpec>;
export type HttpRoute = Infer<typeof httpRoute>;
export type HttpMatchRequest = Infer<typeof httpMatch>;
export type HttpRouteDestination = Infer<typeof httpRouteDestination>;
export type StringMatch = Infer<typeof stringMatch>;
