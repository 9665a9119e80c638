/** `mast <command>`: a thin dispatcher; each command lives in cli/. */
import { USAGE } from '../cli/usage';
import { MAST_VERSION } from '../constructs/version';

type Command = { summary: string; usage: string; run: (args: string[]) => Promise<number> | number };

// Each command is loaded when it runs, not before: `mast validate` need not load the AWS SDK, the
// runtime or cdk8s, and the help loads none of them (a `mast` start is most of a conformance case).
const COMMANDS: Record<string, Command> = {
  validate: {
    summary: 'check mesh YAML the way `istioctl analyze` does; non-zero exit on errors',
    usage: USAGE.validate,
    run: async (args) => (await import('../cli/validate')).runValidate(args),
  },
  synth: {
    summary: 'synthesize Kubernetes manifests (CRDs, mastd, gateway, your resources) into a directory',
    usage: USAGE.synth,
    run: async (args) => (await import('../cli/synth')).runSynth(args),
  },
  inject: {
    summary: 'add the sidecar to workload YAML (yours, or helm template output) where Istio injection would, as istioctl kube-inject',
    usage: USAGE.inject,
    run: async (args) => (await import('../cli/inject')).runInject(args),
  },
  local: {
    summary: 'run the whole mesh on this machine: mastd, the ingress gateway, a sidecar per WorkloadEntry and its app',
    usage: USAGE.local,
    run: async (args) => (await import('../cli/local')).runLocal(args),
  },
  images: {
    summary: 'build the mast/proxy, mast/control and mast/bookinfo images (docker, podman or buildah; the Dockerfiles bundle the sources)',
    usage: USAGE.images,
    run: async (args) => (await import('../cli/images')).runImages(args),
  },
  kind: {
    summary: 'run the synthesized example on a local kind cluster (up), check it (smoke), remove it (down)',
    usage: USAGE.kind,
    run: async (args) => (await import('../cli/kind')).runKind(args),
  },
  dns: {
    summary: 'after a deploy: check that every Gateway host has its Route 53 record pointing at the NLB',
    usage: USAGE.dns,
    run: async (args) => (await import('../cli/dns')).runDns(args),
  },
  'proxy-status': {
    summary: 'list the proxies connected to mastd with their config version: SYNCED, STALE or NACK',
    usage: USAGE['proxy-status'],
    run: async (args) => (await import('../cli/proxy-status')).runProxyStatus(args),
  },
  version: { summary: 'print the version', usage: USAGE.version, run: () => (console.log(MAST_VERSION), 0) },
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
