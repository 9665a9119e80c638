/**
 * The proxy's HTTP/2 settings as a client sees them: Envoy's edge best-practice values by
 * default (100 streams, 64 KiB stream window, 1 MiB connection window, the header list bounded as
 * an HTTP/1.1 head is), and the proxy's own limits when it sets them.
 */
import { cluster, config, forward, stoppedAfterEach, until } from '../../../support/proxy';
import { h2c, h2request } from './h2-client';

const { withBackend, proxyFor, stopAfter } = stoppedAfterEach();

async function settingsSeen(limits: Parameters<typeof proxyFor>[1]) {
  const b = await withBackend('a');
  const { port } = await proxyFor(config([forward('a')], [cluster('a', [b.port])]), limits);
  const session = h2c(port);
  stopAfter(async () => void session.close());
  await h2request(session, { ':path': '/' });
  await until('the connection window update', () => (session.state.remoteWindowSize ?? 0) > 65535);
  return { settings: session.remoteSettings, window: session.state.remoteWindowSize };
}

test("Envoy's edge values by default", async () => {
  const { settings, window } = await settingsSeen({});
  expect(settings).toMatchObject({ maxConcurrentStreams: 100, initialWindowSize: 65536, maxHeaderListSize: 60 * 1024, enablePush: false });
  expect(window).toBe(1024 * 1024);
});

test("the proxy's own limits when set", async () => {
  const { settings, window } = await settingsSeen({
    http2: { maxConcurrentStreams: 7, initialStreamWindowSize: 128 * 1024, initialConnectionWindowSize: 2 * 1024 * 1024 },
  });
  expect(settings).toMatchObject({ maxConcurrentStreams: 7, initialWindowSize: 128 * 1024 });
  expect(window).toBe(2 * 1024 * 1024);
});
