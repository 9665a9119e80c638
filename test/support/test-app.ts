/**
 * A cdk8s App for a test, its output directory removed when the test file is done. cdk8s's own
 * Testing.app() makes a `cdk8s.outdir.*` directory under the system's temporary directory and
 * never removes it: every suite run left about a hundred of them behind.
 */
import { App } from 'cdk8s';
import { tempDir } from './temp-dir';

export function testApp(): App {
  return new App({ outdir: tempDir('cdk8s.outdir.') });
}
