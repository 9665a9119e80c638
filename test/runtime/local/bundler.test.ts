/** `mast local`'s bundles of TypeScript entry points (the proxy from this repository, `.ts` apps). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundler, PROXY_ENTRY } from '../../../runtime/local/bundles';
import { tempDir } from '../../support/temp-dir';

describe('Bundler', () => {
  const dir = tempDir('mast-bundler-');

  test("the proxy's bundle is one-byte text with its source map beside it: every proxy holds its script's whole text", async () => {
    const file = await new Bundler(dir).file(PROXY_ENTRY);
    const text = readFileSync(file, 'utf8');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range of one-byte characters, control characters included
    const oneByte = /^[\x00-\xff]*$/;
    expect(text).toMatch(oneByte);
    expect(text).not.toContain('sourceMappingURL=data:');
    expect(existsSync(`${file}.map`)).toBe(true);
    expect(text.length).toBeLessThan(4_000_000);
  }, 60_000);

  test('a JavaScript entry point runs as is', async () => {
    expect(await new Bundler(dir).file(join(dir, 'app.js'))).toBe(join(dir, 'app.js'));
  });
});
