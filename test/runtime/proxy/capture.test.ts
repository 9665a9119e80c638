import { captureOptionsFromFlags, captureRules } from '../../../runtime/proxy/capture';
import { injectSidecar } from '../../../constructs';

/** The flags the injected init container runs with, parsed as mast-capture parses them. */
function injectedOptions() {
  const [init] = injectSidecar({ containers: [] }, { excludeOutboundPorts: [5432] }).initContainers as any[];
  const args: string[] = init.args;
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) flags[args[i].replace(/^--/, '')] = args[i + 1];
  return captureOptionsFromFlags(flags);
}

describe('capture rules', () => {
  const o = injectedOptions();
  const v4 = captureRules(o, 4);
  const v6 = captureRules(o, 6);

  test('inbound TCP goes to 15006, outbound to 15001, except the proxy uid (no loop)', () => {
    expect(v4).toMatch(/-A MAST_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006/);
    expect(v4).toMatch(/-A MAST_REDIRECT -p tcp -j REDIRECT --to-ports 15001/);
    const lines = v4.split('\n');
    const uid = lines.indexOf('-A MAST_OUTPUT -m owner --uid-owner 1337 -j RETURN');
    expect(uid).toBeGreaterThan(0);
    expect(uid).toBeLessThan(lines.indexOf('-A MAST_OUTPUT -j MAST_REDIRECT'));
  });

  test('metadata addresses are excluded, each in its own family', () => {
    for (const cidr of ['169.254.169.254/32', '169.254.170.23/32']) {
      expect(v4).toContain(`-A MAST_OUTPUT -d ${cidr} -j RETURN`);
      expect(v6).not.toContain(cidr);
    }
    for (const cidr of ['fd00:ec2::254/128', 'fd00:ec2::23/128']) {
      expect(v6).toContain(`-A MAST_OUTPUT -d ${cidr} -j RETURN`);
      expect(v4).not.toContain(cidr);
    }
    expect(v6).toContain('-A MAST_OUTPUT -d ::1/128 -j RETURN');
  });

  test('excluded ports: status and metrics inbound, the user-excluded outbound', () => {
    expect(v4).toContain('-A MAST_INBOUND -p tcp --dport 15020 -j RETURN');
    expect(v4).toContain('-A MAST_INBOUND -p tcp --dport 15090 -j RETURN');
    expect(v4).toContain('-A MAST_OUTPUT -p tcp --dport 5432 -j RETURN');
  });

  test('bad options are errors naming the option and value', () => {
    expect(() => captureRules({ ...o, outboundPort: 0 }, 4)).toThrow('outbound port: 0 is not a port');
    expect(() => captureRules({ ...o, excludeOutboundCidrs: ['10.0.0.0'] }, 4)).toThrow('excluded CIDR: "10.0.0.0" is not a CIDR');
  });
});
