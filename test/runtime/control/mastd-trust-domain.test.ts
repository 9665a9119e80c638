/**
 * mastd signs in its own trust domain (--trust-domain): the mesh config's trustDomain does not move
 * it while mastd runs (as istiod's, a move is a restart), and mastd says so instead of silently
 * compiling policies for a trust domain no certificate carries.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSource } from '../../../runtime/control/file-source';
import { Mastd } from '../../../runtime/control/mastd';
import { until } from '../../support/poll';
import { meshConfigDoc as meshConfig } from '../../support/mesh-yaml';
import { tempDir } from '../../support/temp-dir';

test('a mesh config naming another trust domain than --trust-domain is said once, with how to move to it', async () => {
  const dir = tempDir('mast-td-');
  writeFileSync(join(dir, 'mesh.yaml'), meshConfig('trustDomain: new-td\ntrustDomainAliases: [old-td]'));
  const logs: string[] = [];
  const mastd = new Mastd({ source: new FileSource([dir], 20), token: 't', log: (l) => logs.push(l), trustDomain: 'cluster.local' });
  await mastd.start(0, 0);
  try {
    await until('the first snapshot', () => mastd.snapshot !== undefined);
    const said = () => logs.filter((l) => l.includes('is not the trust domain workload certificates are signed in'));
    expect(said()).toEqual([
      `the mesh config's trustDomain "new-td" is not the trust domain workload certificates are signed in (cluster.local, --trust-domain): restart mastd with --trust-domain new-td to move to it`,
    ]);
    // Another edit with the same value: said once.
    const version = mastd.snapshot!.version;
    writeFileSync(join(dir, 'mesh.yaml'), meshConfig('trustDomain: new-td\ntrustDomainAliases: [old-td, older-td]'));
    await until('the next snapshot', () => mastd.snapshot?.version !== version);
    expect(said()).toHaveLength(1);
  } finally {
    await mastd.stop();
  }
});
