/** Process plumbing shared by the mast-proxy and mastd entry points. */

/**
 * Node flags mast-proxy runs with (image entrypoint, `mast local`, the bench), each worth a few
 * MB of resident memory at no measured CPU cost (bench/RESULTS.md):
 * - a 2 MB young generation instead of 16 MB: per-request garbage dies young either way;
 * - one V8 platform thread instead of one per core (four at most): a proxy's event loop is one
 *   thread, and every extra thread brings its own stack and malloc arena;
 * - no background work in V8 (`--single-threaded`: the garbage collector and the optimizing
 *   compiler work on the main thread; a proxy's heap is ≈ 10 MB, its hot code compiled once) and
 *   no Maglev tier (the hot path ends in TurboFan either way): ≈ 9 MB less on Node 24, the images'
 *   Node, at no measured CPU or latency cost.
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=2', '--v8-pool-size=1', '--single-threaded', '--no-maglev'];

/**
 * Why `--token <t>` is refused (mast-proxy and mastd): every local user can read a process's
 * command line in /proc/<pid>/cmdline, and with the push token any of them could have mastd sign a
 * certificate for the gateway's identity. Refused rather than warned about: a warning still leaks.
 */
export const SECRET_ON_ARGV =
  '--token is refused: a secret on the command line is readable by every local user (/proc/<pid>/cmdline); write it to a file only you can read (mode 0600) and pass --token-file <file>';

/**
 * Set by a supervisor (`mast local`) that holds our stdin open: when it goes away, even by
 * SIGKILL, stdin closes and we stop as if signalled, so no process outlives it.
 */
export const STOP_WITH_PARENT_ENV = 'MAST_STOP_WITH_PARENT';

/** Resolves once SIGTERM or SIGINT arrived (or the supervisor went away) and `stop` finished. */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      void stop().then(() => {
        // A resumed stdin would keep the event loop, and so the process, alive.
        if (process.env[STOP_WITH_PARENT_ENV] === '1') process.stdin.destroy();
        resolve();
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    if (process.env[STOP_WITH_PARENT_ENV] === '1') {
      process.stdin.on('data', () => undefined);
      process.stdin.once('end', onSignal);
      process.stdin.once('close', onSignal);
      process.stdin.resume();
    }
  });
}

/** Runs an entry point: its result is the exit code; an exception is one line and exit code 2. */
export function runMain(name: string, main: (argv: string[]) => Promise<number>): void {
  // A daemon keeps serving its last good state: a stray rejection is logged, never fatal.
  process.on('unhandledRejection', (err) =>
    console.error(`${name}: unexpected error (kept running): ${err instanceof Error ? err.stack : err}`),
  );
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`${name}: ${err instanceof Error ? err.message : err}`);
      process.exitCode = 2;
    },
  );
}
