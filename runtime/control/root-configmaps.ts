/**
 * mastd's root certificate in every namespace, as istiod writes `istio-ca-root-cert`: the
 * `mast-ca-root-cert` ConfigMap (key `root-cert.pem`), which injected sidecars and the gateway
 * mount to verify mastd's push port. Only the leader writes; each namespace is checked once per
 * root (and again every resync, so a deleted or edited ConfigMap comes back). Uses what the
 * chart's RBAC grants: configmaps get/create/update.
 */
import * as k8s from '@kubernetes/client-node';
import { ROOT_CONFIGMAP, ROOT_CONFIGMAP_KEY } from './root-namespaces';

export interface RootConfigMapOptions {
  readonly isLeader: () => boolean;
  readonly log?: (line: string) => void;
}

export class RootConfigMaps {
  private readonly api: k8s.CoreV1Api;
  /** Namespace → the root its ConfigMap was last seen or written with. */
  private readonly done = new Map<string, string>();
  private readonly failing = new Set<string>();
  private running = false;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: RootConfigMapOptions,
  ) {
    this.api = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Forget what was written: the next `publish` reads every namespace's ConfigMap again. */
  resync(): void {
    this.done.clear();
  }

  /** Makes each namespace's ConfigMap hold `root`; one pass at a time, errors logged once per namespace and retried next pass. */
  async publish(namespaces: readonly string[], root: string): Promise<void> {
    if (!this.o.isLeader()) return void this.done.clear();
    if (this.running) return;
    this.running = true;
    try {
      for (const namespace of namespaces) {
        if (this.done.get(namespace) === root || !this.o.isLeader()) continue;
        try {
          await this.ensure(namespace, root);
          this.done.set(namespace, root);
          this.failing.delete(namespace);
        } catch (err) {
          if (!this.failing.has(namespace))
            this.o.log?.(`could not write ConfigMap ${namespace}/${ROOT_CONFIGMAP}: ${(err as Error).message}`);
          this.failing.add(namespace);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async ensure(namespace: string, root: string): Promise<void> {
    const body = (resourceVersion?: string): k8s.V1ConfigMap => ({
      metadata: {
        name: ROOT_CONFIGMAP,
        namespace,
        labels: { 'app.kubernetes.io/part-of': 'mast' },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      data: { [ROOT_CONFIGMAP_KEY]: root },
    });
    let current: k8s.V1ConfigMap;
    try {
      current = await this.api.readNamespacedConfigMap({ name: ROOT_CONFIGMAP, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await this.api.createNamespacedConfigMap({ namespace, body: body() });
      return;
    }
    if (current.data?.[ROOT_CONFIGMAP_KEY] === root) return;
    await this.api.replaceNamespacedConfigMap({ name: ROOT_CONFIGMAP, namespace, body: body(current.metadata?.resourceVersion) });
  }
}
