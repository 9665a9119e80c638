/** Istio's plug-in CA files, from a mounted `cacerts` Secret (cacerts.ts). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pluggedCaOf, readCacertsDir } from '../../../runtime/control/cacerts';

test('ca-cert.pem and ca-key.pem make a plugged-in CA; root-cert.pem and cert-chain.pem come with it when there', () => {
  expect(pluggedCaOf(new Map([['ca-cert.pem', 'C']]))).toBeUndefined();
  expect(pluggedCaOf(new Map([['ca-key.pem', 'K']]))).toBeUndefined();
  expect(
    pluggedCaOf(
      new Map([
        ['ca-cert.pem', 'C'],
        ['ca-key.pem', 'K'],
      ]),
    ),
  ).toEqual({ certPem: 'C', keyPem: 'K' });
  expect(
    pluggedCaOf(
      new Map([
        ['ca-cert.pem', 'C'],
        ['ca-key.pem', 'K'],
        ['root-cert.pem', 'R'],
        ['cert-chain.pem', 'CR'],
      ]),
    ),
  ).toEqual({ certPem: 'C', keyPem: 'K', rootPem: 'R', chainPem: 'CR' });
});

test('a directory without the Secret (the optional volume left empty, or no such path) is no CA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mast-cacerts-'));
  try {
    expect(readCacertsDir(dir)).toBeUndefined();
    expect(readCacertsDir(join(dir, 'absent'))).toBeUndefined();
    writeFileSync(join(dir, 'ca-cert.pem'), 'C');
    writeFileSync(join(dir, 'ca-key.pem'), 'K');
    writeFileSync(join(dir, 'root-cert.pem'), 'R');
    expect(readCacertsDir(dir)).toEqual({ certPem: 'C', keyPem: 'K', rootPem: 'R' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
