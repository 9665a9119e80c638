/**
 * CDK tokens are placeholders resolved at deploy time (`${Token[Foo.123]}`, or a
 * huge negative double for numbers). They are opaque here: never an error.
 */
const STRING_TOKEN = /\$\{Token\[[^\]]+\]\}/;

export function isToken(value: unknown): boolean {
  if (typeof value === 'string') return STRING_TOKEN.test(value);
  // aws-cdk-lib encodes number tokens as doubles around -1.8881545897087626e+289.
  if (typeof value === 'number') return value < -1e288 && value > -1e290;
  return false;
}
