/** The repository's CDK app (bin/mast.ts, cdk.json's app) on bad `mast:environments`: one MAST line and exit 1, before CDK says anything. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/temp-dir';

const ROOT = join(__dirname, '..', '..');
const OUTDIR = tempDir('mast-app-test-');

/** The app as `cdk synth -c mast:environments=...` runs it: the context in CDK_CONTEXT_JSON. */
function app(environments: unknown) {
  const r = spawnSync(process.execPath, [require.resolve('ts-node/dist/bin'), '--swc', join(ROOT, 'bin', 'mast.ts')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CDK_OUTDIR: OUTDIR, CDK_CONTEXT_JSON: JSON.stringify({ 'mast:environments': environments }) },
  });
  return { status: r.status, stderr: r.stderr.trim() };
}

describe('the repository CDK app', () => {
  test('no environment at all says where environments come from', () => {
    expect(app({})).toEqual({
      status: 1,
      stderr:
        'mast: MAST_CONFIG_INVALID: context "mast:environments" names no environment (cdk.json, or -c \'mast:environments={"dev":{...}}\')',
    });
  });

  test('a bad setting names its key and value', () => {
    expect(app({ dev: { zoneName: 'example.com', hostedZoneId: 'Z1', account: '12345' } })).toEqual({
      status: 1,
      stderr: 'mast: MAST_CONFIG_INVALID: mast:environments.dev.account must be an AWS account id of 12 digits, got "12345"',
    });
  });
});
