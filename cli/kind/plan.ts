/**
 * From `dist/` to a running mesh on kind, as a list of steps (a recorded command plan the tests
 * check, the CLI runs): create the cluster from a generated config, load the images, apply the
 * manifests in order with a wait after each stage. Pure.
 */
import { stringify } from 'yaml';
import type { KubeObject } from '../../api';
import { IMAGES, loadCommands, type Engine } from './images';

export interface KindOptions {
  /** @default 'mast' */
  readonly name?: string;
  /** Host port for the gateway's HTTP NodePort (30080). @default 8080 */
  readonly httpPort?: number;
  /** Host port for its HTTPS NodePort (30443). @default 8443 */
  readonly httpsPort?: number;
}

export interface Manifest {
  readonly file: string;
  readonly objects: readonly KubeObject[];
}

export type Step =
  | { readonly run: readonly string[]; readonly why: string; readonly env?: Record<string, string> }
  | { readonly write: string; readonly content: string; readonly why: string };

export const GATEWAY_NODE_PORTS = { http: 30080, https: 30443 } as const;

/**
 * kind has no load-balancer provider (a LoadBalancer Service stays pending), so the gateway is a
 * NodePort Service and the node container publishes those ports on the host's loopback.
 */
export function kindConfig(o: KindOptions = {}): object {
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    name: o.name ?? 'mast',
    nodes: [
      {
        role: 'control-plane',
        extraPortMappings: [
          { containerPort: GATEWAY_NODE_PORTS.http, hostPort: o.httpPort ?? 8080, listenAddress: '127.0.0.1', protocol: 'TCP' },
          { containerPort: GATEWAY_NODE_PORTS.https, hostPort: o.httpsPort ?? 8443, listenAddress: '127.0.0.1', protocol: 'TCP' },
        ],
      },
    ],
  };
}

const deployments = (m: Manifest) =>
  m.objects.filter((o) => o.kind === 'Deployment').map((o) => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name }));

export function kindUpPlan(manifests: readonly Manifest[], engine: Engine, workDir: string, o: KindOptions = {}): Step[] {
  const name = o.name ?? 'mast';
  const context = ['--context', `kind-${name}`];
  const config = `${workDir}/kind-config.yaml`;
  const steps: Step[] = [
    { write: config, content: stringify(kindConfig(o)), why: 'the cluster config: gateway NodePorts published on 127.0.0.1' },
    { run: ['kind', 'create', 'cluster', '--name', name, '--config', config, '--wait', '120s'], why: 'create the cluster' },
    ...loadCommands(
      engine,
      IMAGES.map((i) => i.tag),
      name,
      workDir,
    ).map((run) => ({ run, why: 'load the images into the node (imagePullPolicy IfNotPresent uses them)' })),
  ];
  for (const m of [...manifests].sort((a, b) => a.file.localeCompare(b.file))) {
    const crds = m.objects.some((x) => x.kind === 'CustomResourceDefinition');
    steps.push({ run: ['kubectl', ...context, 'apply', '--server-side', '-f', m.file], why: `apply ${m.file}` });
    if (crds)
      steps.push({
        run: [
          'kubectl',
          ...context,
          'wait',
          '--for',
          'condition=established',
          '--timeout',
          '60s',
          'crd',
          '-l',
          'app.kubernetes.io/part-of=mast',
        ],
        why: 'wait for the CRDs to be established',
      });
    for (const d of deployments(m))
      steps.push({
        run: ['kubectl', ...context, '-n', d.namespace, 'rollout', 'status', `deployment/${d.name}`, '--timeout', '180s'],
        why: `wait for ${d.namespace}/${d.name}`,
      });
  }
  // kind runs its node in docker unless told to use podman.
  return engine === 'podman'
    ? steps.map((s) => ('run' in s && s.run[0] === 'kind' ? { ...s, env: { KIND_EXPERIMENTAL_PROVIDER: 'podman' } } : s))
    : steps;
}

export function kindDownPlan(o: KindOptions = {}): Step[] {
  return [{ run: ['kind', 'delete', 'cluster', '--name', o.name ?? 'mast'], why: 'delete the cluster' }];
}

export function describeStep(s: Step): string {
  return 'run' in s
    ? `${
        s.env
          ? `${Object.entries(s.env)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')} `
          : ''
      }${s.run.join(' ')}`
    : `write ${s.write}`;
}
