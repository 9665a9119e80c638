/**
 * Ports, paths and names every part of mast agrees on: the constructs that write the pods, the
 * proxy and mastd that run in them, `mast local`. Here, in the API layer, because constructs and the
 * runtime may both import it and nothing else. Istio's numbers wherever Istio has one.
 */
import { version } from '../package.json';

/** mast's version (the package's): image tags, the recommended version label, `istio_build`. */
export const MAST_VERSION: string = version;

export const PORTS = {
  /** A sidecar's outbound listener (iptables REDIRECT target for the app's calls). */
  sidecarOutbound: 15001,
  /** A sidecar's inbound listener (REDIRECT target for traffic to the pod). */
  sidecarInbound: 15006,
  /** A proxy's admin port (127.0.0.1 only). */
  proxyAdmin: 15000,
  /** A sidecar's status port: readiness, scrapes, the app's rewritten probes. */
  sidecarStatus: 15020,
  /** The ingress gateway's status port (its readiness, for the NLB's health check). */
  gatewayStatus: 15021,
  /** Where Prometheus scrapes merged metrics. */
  prometheus: 15090,
  /** mastd's push port (proxies' config stream, over TLS in a cluster). */
  push: 15012,
  /** mastd's monitoring port: /ready, /metrics, /debug/*. */
  monitoring: 15014,
} as const;

/** Where gateway pods find the Secrets Gateways name as `credentialName` (one directory each). */
export const CREDENTIALS_DIR = '/etc/mast/credentials';
/** Istio's plug-in CA: the `cacerts` Secret of the control plane's namespace, mounted (optional) where mastd looks for it, as istiod does. */
export const CACERTS_SECRET = 'cacerts';
export const CACERTS_DIR = '/etc/cacerts';

/** The ConfigMap mastd writes its root into in every namespace, its key, and where pods mount it. */
export const ROOT_CONFIGMAP = 'mast-ca-root-cert';
export const ROOT_CONFIGMAP_KEY = 'root-cert.pem';
export const ROOT_MOUNT_DIR = '/var/run/mast/root';

/** Istio's mesh config: the `mesh` key of this ConfigMap in the root namespace. */
export const MESH_CONFIGMAP = 'istio';

/** mast's own namespace: mastd and the default ingress gateway (Istio's `istio-system`). */
export const SYSTEM_NAMESPACE = 'mast-system';

/** The default ingress gateway's Deployment and Service (Istio's `istio-ingressgateway`). */
export const GATEWAY_NAME = 'mast-ingressgateway';

/** What Gateway resources select the default ingress gateway by, and its Deployment's selector: Istio's. */
export const GATEWAY_SELECTOR_LABELS: Readonly<Record<string, string>> = { istio: 'ingressgateway' };

/**
 * The labels of the default ingress gateway's pods: Istio's two (policies and Gateways written for
 * Istio select its gateway by either), `istio` also being the Deployment's selector.
 */
export const GATEWAY_POD_LABELS: Readonly<Record<string, string>> = { ...GATEWAY_SELECTOR_LABELS, app: 'istio-ingressgateway' };

/**
 * The egress gateway's Deployment and Service: Istio's name, which its egress tasks route to
 * (`istio-egressgateway.<namespace>.svc.cluster.local`), in mast's namespace.
 */
export const EGRESS_GATEWAY_NAME = 'istio-egressgateway';

/** What Gateway resources select the egress gateway by, and its Deployment's selector: Istio's. */
export const EGRESS_GATEWAY_SELECTOR_LABELS: Readonly<Record<string, string>> = { istio: 'egressgateway' };

/** The labels of the egress gateway's pods: Istio's two. */
export const EGRESS_GATEWAY_POD_LABELS: Readonly<Record<string, string>> = {
  ...EGRESS_GATEWAY_SELECTOR_LABELS,
  app: 'istio-egressgateway',
};

/** `mastd`'s monitoring address as `mast proxy-status` reaches it on this machine. */
export const LOCAL_MONITORING_URL = `http://127.0.0.1:${PORTS.monitoring}`;
