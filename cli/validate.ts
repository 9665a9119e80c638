/** `mast validate`: load, validate, print findings; exit 1 on errors, 2 on bad usage or input. */
import { formatFinding, InputNotFoundError, isError, loadFiles, validate, type Finding } from '../api';
import { FILE_OPTION, parse, requireFiles, UsageError } from './args';
import { USAGE as USAGES } from './usage';

const USAGE = USAGES.validate;

export async function runValidate(args: string[]): Promise<number> {
  let opts;
  let files: string[];
  try {
    opts = parse(
      args,
      {
        file: FILE_OPTION,
        output: { type: 'string', short: 'o', default: 'text' },
        'no-default-gateway': { type: 'boolean', default: false },
      },
      USAGE,
    );
    files = requireFiles(opts.file, USAGE);
    if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`--output must be text or json, not "${opts.output}"`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`mast validate: ${err.message}`);
    return 2;
  }
  let findings: Finding[];
  let count: number;
  try {
    const loaded = loadFiles(files);
    findings = [...loaded.findings, ...validate(loaded.objects, { defaultIngressGateway: !opts['no-default-gateway'] })];
    count = loaded.objects.length;
  } catch (err) {
    if (!(err instanceof InputNotFoundError)) throw err;
    console.error(`mast validate: ${err.message}`);
    return 2;
  }
  if (opts.output === 'json') console.log(JSON.stringify({ findings }, null, 2));
  else {
    for (const f of findings) console.log(formatFinding(f));
    const errors = findings.filter(isError).length;
    console.log(`${count} objects, ${errors} errors, ${findings.length - errors} warnings/info`);
  }
  return findings.some(isError) ? 1 : 0;
}
