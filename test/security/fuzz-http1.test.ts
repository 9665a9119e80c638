/**
 * Differential fuzz of the HTTP/1.1 head and chunked parsers against Node's llhttp (see
 * http1-fuzz.ts): every generated input llhttp rejects, mast does not accept, and where both
 * accept they read the same requests. The same for upstream responses (http1-response-fuzz.ts,
 * llhttp as Node's HTTP client reads them): none reaches a client that llhttp could not read. Bounded here (fixed seed, a few thousand cases); `npm run
 * fuzz` runs it long with FUZZ_CASES and FUZZ_SEED (a random seed, printed, when `random`).
 *
 * Deliberate exceptions, where llhttp rejects and mast accepts: none. Where only mast refuses
 * (on purpose; counts printed by `npm run fuzz`): a `#fragment`, a `%00` in the path, `*` with
 * a method other than OPTIONS, userinfo in an absolute URL, two Host headers, CONNECT (mast
 * tunnels none), an absolute URL without a Host header (Node's server refuses it too, above
 * llhttp), whitespace runs in the request line, HTTP/2.0 in an HTTP/1 request line, a
 * Transfer-Encoding other than exactly `chunked`, an empty chunk extension value (`5;a=`),
 * and anything after a request that closes its connection (mast never reads it; llhttp
 * accepts empty lines there).
 */
import { fuzz, LlhttpOracle } from './http1-fuzz';
import { fuzzResponses } from './http1-response-fuzz';

const CASES = Number(process.env.FUZZ_CASES ?? 3000);
const SEED = process.env.FUZZ_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED ?? 19);

test(
  `mast rejects every input llhttp rejects, and reads the same requests where both accept (seed ${SEED}, ${CASES} cases)`,
  async () => {
    const oracle = new LlhttpOracle();
    try {
      const report = await fuzz(SEED, CASES, oracle);
      if (process.env.FUZZ_CASES)
        console.log(
          JSON.stringify({ seed: SEED, ...report, failures: report.failures.length, mismatches: report.mismatches.length }, null, 1),
        );
      const show = (xs: typeof report.failures) => xs.slice(0, 5).map((f) => ({ input: f.input, llhttp: f.llhttp, mast: f.mast }));
      expect(show(report.failures)).toEqual([]);
      expect(show(report.mismatches)).toEqual([]);
      // The generator reaches both sides of the property, not only one.
      expect(report.bothReject).toBeGreaterThan(CASES / 10);
      expect(report.bothAccept).toBeGreaterThan(CASES / 20);
    } finally {
      oracle.close();
    }
  },
  Math.max(60_000, CASES * 5),
);

test(
  `no upstream response llhttp cannot read whole is passed on by mast; where both read it, the same status and body length (seed ${SEED}, ${CASES} cases)`,
  async () => {
    const report = await fuzzResponses(SEED, CASES);
    if (process.env.FUZZ_CASES)
      console.log(
        JSON.stringify(
          { seed: SEED, responses: true, ...report, failures: report.failures.length, mismatches: report.mismatches.length },
          null,
          1,
        ),
      );
    expect(report.failures.slice(0, 5)).toEqual([]);
    expect(report.mismatches.slice(0, 5)).toEqual([]);
    expect(report.bothReject).toBeGreaterThan(CASES / 10);
    expect(report.bothAccept).toBeGreaterThan(CASES / 20);
  },
  Math.max(60_000, CASES * 5),
);
