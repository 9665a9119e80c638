/** The filter chain a TLS connection gets by its ClientHello's name, as Envoy's `server_names` match orders them. */
import { chainFor } from '../../../runtime/proxy/server-names';

const chain = (name: string, ...serverNames: string[]) => ({ name, serverNames });
const EXACT = chain('exact', 'helloworld.example.com');
const DEEP = chain('deep', '*.eu.example.com');
const WIDE = chain('wide', '*.example.com');
const ANY = chain('any');

test.each([
  ['an exact name before every wildcard', [WIDE, EXACT], 'helloworld.example.com', 'exact'],
  ['names compare without case', [EXACT], 'HelloWorld.Example.COM', 'exact'],
  ['the narrowest wildcard first, whatever the order', [WIDE, DEEP], 'shop.eu.example.com', 'deep'],
  ['a wildcard covers more than one label (Envoy tries *.eu.example.com, then *.example.com)', [WIDE], 'a.b.example.com', 'wide'],
  ['a wildcard does not cover its own suffix', [WIDE], 'example.com', undefined],
  ['a name no chain names goes to the chain that names none', [EXACT, ANY], 'other.example.org', 'any'],
  ['a name no chain names, and no catch-all: none (the connection is closed)', [EXACT, WIDE], 'other.example.org', undefined],
  ['no name at all: only a chain that names none takes it', [EXACT, WIDE, ANY], undefined, 'any'],
  ['no name and no catch-all: none', [EXACT, WIDE], undefined, undefined],
  ['a chain named "*" is a catch-all too', [chain('star', '*')], undefined, 'star'],
  ['an exact name beats a catch-all listed first', [ANY, EXACT], 'helloworld.example.com', 'exact'],
] as const)('%s', (_why, chains, name, expected) => {
  expect(chainFor(chains, name)?.name).toBe(expected);
});
