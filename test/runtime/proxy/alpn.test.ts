/** Which protocol a mast TLS server acknowledges from a client's ALPN list. */
import { alpnChoice } from '../../../runtime/proxy/peer-tls';

const choose = alpnChoice(['h2', 'http/1.1']);

describe('ALPN on mast TLS servers', () => {
  it('takes the first of its own protocols the client offers, whatever the client preferred', () => {
    expect(choose({ protocols: ['h2', 'http/1.1'] })).toBe('h2');
    expect(choose({ protocols: ['http/1.1', 'h2'] })).toBe('h2');
    expect(choose({ protocols: ['istio', 'http/1.1'] })).toBe('http/1.1');
  });

  it("goes on with a list of none of them (Istio's openssl -alpn istio) by acknowledging the client's first, where Node would fail the handshake", () => {
    expect(choose({ protocols: ['istio'] })).toBe('istio');
    expect(choose({ protocols: ['istio-peer-exchange', 'istio'] })).toBe('istio-peer-exchange');
  });

  it('serves HTTP/1.1 only where it offers only that', () => {
    expect(alpnChoice(['http/1.1'])({ protocols: ['h2', 'http/1.1'] })).toBe('http/1.1');
  });
});
