/**
 * mastd: `node mastd.js --watch <dir> [--push-port 15012] [--monitoring-port 15014] [--token-file f]`.
 * The Kubernetes source (informers) is not built yet; files are (`mast local`, tests).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runMain, untilSignal } from '../shared/process';
import { FileSource } from './file-source';
import { Mastd } from './mastd';

const HELP = `mastd: the mast control plane

Usage: mastd --watch <file|dir> [--watch ...] [options]

Options:
  --watch <file|dir>        mesh YAML to serve (re-read on change)
  --push-port <n>           push server for proxies (default 15012)
  --monitoring-port <n>     /ready /metrics /debug/analyze /debug/syncz (default 15014)
  --host <addr>             listen address (default 127.0.0.1)
  --token <t> | --token-file <f>   bearer token proxies must present
  --debounce-ms <n>         batch edits within this window (default 100)
  --source kubernetes       not available yet
  --help`;

export async function main(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({
    args: argv,
    strict: false,
    options: {
      watch: { type: 'string', multiple: true },
      'push-port': { type: 'string', default: '15012' },
      'monitoring-port': { type: 'string', default: '15014' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'debounce-ms': { type: 'string', default: '100' },
      source: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (o.source === 'kubernetes') {
    console.error('mastd: the Kubernetes source is not built yet (issue #6); use --watch <dir>');
    return 2;
  }
  const watch = o.watch as string[] | undefined;
  if (!watch?.length) {
    console.error('mastd: --watch <file|dir> is required (see --help)');
    return 2;
  }
  const token = (o.token as string | undefined) ?? (o['token-file'] ? readFileSync(o['token-file'] as string, 'utf8').trim() : undefined);
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const mastd = new Mastd({ source: new FileSource(watch, Number(o['debounce-ms'])), token, log, defaultIngressGateway: true });
  const ports = await mastd.start(Number(o['push-port']), Number(o['monitoring-port']), o.host as string);
  log(`mastd ready: push ${ports.pushPort}, monitoring ${ports.monitoringPort}`);
  await untilSignal(() => mastd.stop());
  return 0;
}

if (require.main === module) runMain('mastd', main);
