/** TLS origination whose files cannot be read: the connection fails, and the proxy says why once. */
import { Origination } from '../../../../runtime/proxy/upstream/origination';
import { tempDir } from '../../../support/temp-dir';

const failed = (o: Origination) =>
  new Promise<string>((resolve) => o.connect('127.0.0.1', 9).on('error', (e: Error) => resolve(e.message)));

test('an unreadable caCertificates fails each connection, with one stderr line naming the host and the file', async () => {
  const lines: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const o = new Origination({ mode: 'SIMPLE', sni: 'edition.cnn.com', caCertificates: '/nonexistent/ca.crt' }, tempDir('mast-orig-'));
    expect(await failed(o)).toMatch(/ENOENT.*\/nonexistent\/ca\.crt/);
    expect(await failed(o)).toMatch(/ENOENT/);
  } finally {
    write.mockRestore();
  }
  expect(lines).toEqual([
    expect.stringMatching(/^mast-proxy: TLS origination to edition\.cnn\.com: ENOENT.*\/nonexistent\/ca\.crt.*503 UF/),
  ]);
});
