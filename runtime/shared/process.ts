/** Process plumbing shared by the mast-proxy and mastd entry points. */

/** Resolves once SIGTERM or SIGINT arrived and `stop` finished (drain, close servers). */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = () => void stop().then(resolve);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

/** Runs an entry point: its result is the exit code; an exception is one line and exit code 2. */
export function runMain(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`${name}: ${err instanceof Error ? err.message : err}`);
      process.exitCode = 2;
    },
  );
}
