/** `mast <command>`: a thin dispatcher; each command lives in cli/. */
import { runValidate } from '../cli/validate';
import { runSynth } from '../cli/synth';
import { runInject } from '../cli/inject';
import { runDns } from '../cli/dns';
import { runProxyStatus } from '../cli/proxy-status';
import { runLocal } from '../cli/local';
import { runImages } from '../cli/images';
import { runKind } from '../cli/kind';
import { MAST_VERSION } from '../constructs/version';

type Command = { summary: string; usage: string; run: (args: string[]) => Promise<number> | number };

const COMMANDS: Record<string, Command> = {
  validate: {
    summary: 'check mesh YAML the way `istioctl analyze` does; non-zero exit on errors',
    usage: 'mast validate -f <file|dir> [-f ...] [--output text|json] [--no-default-gateway]',
    run: runValidate,
  },
  synth: {
    summary: 'synthesize Kubernetes manifests (CRDs, mastd, gateway, your resources) into a directory',
    usage: 'mast synth -f <file|dir> [-f ...] [--out dist] [--gateway-service LoadBalancer|ClusterIP|NodePort]',
    run: runSynth,
  },
  inject: {
    summary: 'add the sidecar to workload YAML (yours, or helm template output) where Istio injection would, as istioctl kube-inject',
    usage: 'mast inject -f <file|dir> [-f ...] [-o <file>] [--proxy-image <image>] [--namespace-label <ns>=<label>=<value> ...]',
    run: runInject,
  },
  local: {
    summary: 'run the whole mesh on this machine: mastd, the ingress gateway, a sidecar per WorkloadEntry and its app',
    usage: 'mast local -f <file|dir> [-f ...] [--gateway-port 8080] [--admin-port 15000] [--access-log] [--ready-timeout 60] [--intercept]',
    run: runLocal,
  },
  images: {
    summary: 'build the mast/proxy, mast/control and mast/bookinfo images (docker, podman or buildah; the Dockerfiles bundle the sources)',
    usage: 'mast images [--engine docker|podman|buildah] [--dry-run]',
    run: runImages,
  },
  kind: {
    summary: 'run the synthesized example on a local kind cluster (up), check it (smoke), remove it (down)',
    usage: 'mast kind up|down|smoke [--name mast] [--dist dist] [--http-port 8080] [--engine ...] [--url ...] [--dry-run]',
    run: runKind,
  },
  dns: {
    summary: 'after a deploy: check that every Gateway host has its Route 53 record pointing at the NLB',
    usage: 'mast dns check -f <mesh file|dir> --zone-id <id> --nlb <NLB DNS name> [--region <region>]',
    run: runDns,
  },
  'proxy-status': {
    summary: 'list the proxies connected to mastd with their config version: SYNCED, STALE or NACK',
    usage: 'mast proxy-status [--mastd http://127.0.0.1:15014] [--output text|json]',
    run: runProxyStatus,
  },
  version: { summary: 'print the version', usage: 'mast version', run: () => (console.log(MAST_VERSION), 0) },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'mast: a service mesh declared as code',
    '',
    'Usage: mast <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}\n  ${' '.repeat(width)}  ${c.usage}`),
    '',
    "Run `mast <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (name === '--version') return COMMANDS.version.run([]);
  const command = COMMANDS[name];
  if (!command) {
    console.error(`mast: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\n\nUsage: ${command.usage}`);
    return 0;
  }
  return command.run(rest);
}
