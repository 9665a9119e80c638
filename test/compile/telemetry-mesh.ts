/**
 * The mesh the Telemetry compile tests (tracing, access logs, metrics) share: bookinfo's reviews and
 * details behind the ingress gateway, the proxies they compile for, and builders for the mesh config
 * and a Telemetry.
 */
import { loadYaml, type KubeObject } from '../../api';
import { localMesh } from '../fixtures/local-mesh';

export const base = localMesh({ reviewsV1: 19001, reviewsV2: 19002, details: 19003 });
export const GATEWAY = {
  mode: 'gateway' as const,
  namespace: 'default',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
  portMap: { 80: 8080 },
};
export const reviewsV1 = {
  mode: 'sidecar' as const,
  namespace: 'default',
  labels: { app: 'reviews', version: 'v1' },
  outboundPort: 15001,
  inbound: { port: 15006, appPort: 19001 },
};
export const reviewsV2 = { ...reviewsV1, labels: { app: 'reviews', version: 'v2' }, inbound: { port: 15006, appPort: 19002 } };
export const details = { ...reviewsV1, labels: { app: 'details', version: 'v1' }, inbound: { port: 15006, appPort: 19003 } };

/** The `istio` ConfigMap of istio-system with this mesh config. */
export const mesh = (text: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'istio', namespace: 'istio-system' },
  data: { mesh: text },
});

/** A Telemetry `name` in `namespace` with these spec lines (indented two spaces). */
export const telemetry = (name: string, namespace: string, spec: string, created = '2026-01-01T00:00:00Z'): KubeObject[] =>
  loadYaml(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${namespace}, creationTimestamp: "${created}" }
spec:
${spec}`).objects;
