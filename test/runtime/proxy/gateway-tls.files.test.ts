/**
 * Which files a gateway server is served from: its own paths, or its credentialName Secret as
 * mounted, in Istio's order (generic `cert`/`key` before `tls.crt`/`tls.key`; for MUTUAL the CA of
 * `<name>-cacert` before the Secret's own, `cacert` before `ca.crt`), and why not when it cannot be.
 * The same Secrets as a DestinationRule's credentialName gives TLS origination its client files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientTlsFiles, tlsFiles } from '../../../runtime/proxy/gateway-tls';
import { tempDir } from '../../support/temp-dir';

const dir = tempDir('mast-tls-files-');
const put = (path: string, text = 'x') => {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
};
const at = (path: string) => join(dir, path);

test('files named by the server: as given; MUTUAL without caCertificates cannot verify clients', () => {
  expect(tlsFiles({ certificateFile: '/c.pem', keyFile: '/k.pem' }, dir)).toEqual({ cert: '/c.pem', key: '/k.pem' });
  expect(tlsFiles({ certificateFile: '/c.pem', keyFile: '/k.pem', mode: 'MUTUAL', caFile: '/ca.pem' }, dir)).toEqual({
    cert: '/c.pem',
    key: '/k.pem',
    ca: '/ca.pem',
  });
  expect(tlsFiles({ certificateFile: '/c.pem', keyFile: '/k.pem', mode: 'OPTIONAL_MUTUAL' }, dir)).toEqual({
    skip: 'TLS OPTIONAL_MUTUAL without caCertificates cannot verify clients',
  });
});

test('a credential in the kubernetes.io/tls form, its CA from ca.crt', () => {
  put('tls-form/tls.crt');
  put('tls-form/tls.key');
  put('tls-form/ca.crt');
  expect(tlsFiles({ credentialName: 'tls-form' }, dir)).toEqual({ cert: at('tls-form/tls.crt'), key: at('tls-form/tls.key') });
  expect(tlsFiles({ credentialName: 'tls-form', mode: 'MUTUAL' }, dir)).toEqual({
    cert: at('tls-form/tls.crt'),
    key: at('tls-form/tls.key'),
    ca: at('tls-form/ca.crt'),
  });
});

test('the generic form wins over the tls one; <name>-cacert over the Secret’s own CA; caCertificates over both', () => {
  for (const f of ['cert', 'key', 'cacert', 'tls.crt', 'tls.key', 'ca.crt']) put(`both/${f}`);
  put('both-cacert/ca.crt');
  expect(tlsFiles({ credentialName: 'both', mode: 'MUTUAL' }, dir)).toEqual({
    cert: at('both/cert'),
    key: at('both/key'),
    ca: at('both-cacert/ca.crt'),
  });
  expect(tlsFiles({ credentialName: 'both', mode: 'MUTUAL', caFile: '/mine.pem' }, dir)).toMatchObject({ ca: '/mine.pem' });
});

test('not there, half there or empty: not served, and the reason names the Secret', () => {
  expect(tlsFiles({ credentialName: 'missing' }, dir)).toEqual({
    skip: expect.stringMatching(/^TLS credentialName "missing": no Secret with cert\/key or tls\.crt\/tls\.key in /),
  });
  put('half/tls.crt');
  expect(tlsFiles({ credentialName: 'half' }, dir)).toMatchObject({ skip: expect.stringContaining('"half"') });
  put('empty/tls.crt', '');
  put('empty/tls.key', '');
  expect(tlsFiles({ credentialName: 'empty' }, dir)).toMatchObject({ skip: expect.stringContaining('"empty"') });
  put('no-ca/tls.crt');
  put('no-ca/tls.key');
  expect(tlsFiles({ credentialName: 'no-ca', mode: 'MUTUAL' }, dir)).toEqual({
    skip: 'TLS MUTUAL credentialName "no-ca": no CA (cacert or ca.crt) in it or in the Secret no-ca-cacert',
  });
  expect(tlsFiles({}, dir)).toEqual({ skip: 'TLS without serverCertificate/privateKey or credentialName' });
});

describe('a DestinationRule credentialName (TLS origination)', () => {
  test("the task's client-credential (tls.key, tls.crt, ca.crt): MUTUAL takes the pair and the CA; SIMPLE the CA alone", () => {
    put('client-credential/tls.crt');
    put('client-credential/tls.key');
    put('client-credential/ca.crt');
    expect(clientTlsFiles('client-credential', 'MUTUAL', true, dir)).toEqual({
      cert: at('client-credential/tls.crt'),
      key: at('client-credential/tls.key'),
      ca: at('client-credential/ca.crt'),
    });
    expect(clientTlsFiles('client-credential', 'SIMPLE', true, dir)).toEqual({ ca: at('client-credential/ca.crt') });
    // insecureSkipVerify: no CA needed, none taken.
    expect(clientTlsFiles('client-credential', 'MUTUAL', false, dir)).toEqual({
      cert: at('client-credential/tls.crt'),
      key: at('client-credential/tls.key'),
    });
  });

  test("the CA of <name>-cacert before the Secret's own", () => {
    put('split/cert');
    put('split/key');
    put('split-cacert/cacert');
    expect(clientTlsFiles('split', 'MUTUAL', true, dir)).toEqual({
      cert: at('split/cert'),
      key: at('split/key'),
      ca: at('split-cacert/cacert'),
    });
  });

  test("missing: no Secret, or no CA to check the server with (the connection then fails, as Envoy's without the SDS secret)", () => {
    expect(clientTlsFiles('absent', 'MUTUAL', true, dir)).toEqual({
      missing: `credentialName "absent": no Secret with cert/key or tls.crt/tls.key in ${at('absent')}`,
    });
    put('no-ca/tls.crt');
    put('no-ca/tls.key');
    expect(clientTlsFiles('no-ca', 'MUTUAL', true, dir)).toEqual({
      missing: 'credentialName "no-ca": no CA (cacert or ca.crt) in it or in the Secret no-ca-cacert',
    });
    expect(clientTlsFiles('no-ca', 'SIMPLE', true, dir)).toHaveProperty('missing');
  });

  test('only a Secret name becomes a path: no `..`, no `kubernetes://` reference', () => {
    put('outside/tls.crt');
    put('outside/tls.key');
    put('outside/ca.crt');
    for (const name of ['../outside', 'kubernetes://client-credential', '..', 'Upper'])
      expect(clientTlsFiles(name, 'MUTUAL', true, join(dir, 'inner'))).toEqual({
        missing: `credentialName ${JSON.stringify(name)}: not a Secret name mounted here`,
      });
  });
});
