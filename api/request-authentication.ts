/** security.istio.io/v1 RequestAuthentication: the JWTs a workload accepts (Istio's `jwtRules`). */
import { arr, bool, duration, obj, req, str, strs, type Infer } from './schema';
import { workloadSelector } from './common';

export const jwtHeader = obj({
  name: req(str('HTTP header name, e.g. "x-jwt-assertion".')),
  prefix: str('Prefix stripped before the token, e.g. "Bearer ".'),
});

export const jwtRule = obj({
  issuer: req(str('The `iss` a token must carry.')),
  audiences: strs('`aud` values accepted; absent: any audience.'),
  jwksUri: str('URL of the JSON Web Key Set; mastd fetches it and pushes the keys to the proxies.'),
  jwks: str('The JSON Web Key Set inline (JSON text); only one of jwks and jwksUri.'),
  fromHeaders: arr(jwtHeader, 'Where the token is; default `Authorization: Bearer <token>`.'),
  fromParams: strs('Query parameters holding the token; default `access_token`.'),
  fromCookies: strs('Cookies holding the token.'),
  outputPayloadToHeader: str('Header receiving the verified payload, base64url encoded.'),
  outputClaimToHeaders: arr(obj({ header: req(str()), claim: req(str()) }), 'Headers receiving single claims.'),
  forwardOriginalToken: bool('Keep the token in the request sent on (default: removed).'),
  timeout: duration('Timeout to fetch the JWKS (default 5s).'),
});

export const requestAuthenticationSpec = obj({
  selector: workloadSelector,
  jwtRules: arr(jwtRule),
});

export type RequestAuthenticationSpec = Infer<typeof requestAuthenticationSpec>;
export type JwtRule = Infer<typeof jwtRule>;
