/** What mast local tells Prometheus: its proxies as HTTP service-discovery targets, and a prometheus.yml that reads them (pure). */
import { parse } from 'yaml';
import { PROMETHEUS_PATHS, prometheusConfig, scrapeTargets } from '../../../runtime/local/prometheus';

describe('Prometheus for mast local', () => {
  test('each proxy is a target labelled with its namespace and workload, as a pod job labels a pod', () => {
    expect(
      scrapeTargets([
        { id: 'reviews-v1.default', host: '127.0.0.1', adminPort: 41002 },
        { id: 'mast-ingressgateway.mast-system', host: '127.0.0.1', adminPort: 41001 },
        // A workload name may hold dots, a namespace never: the last one parts them.
        { id: 'api.v2.shop', host: '::1', adminPort: 41003 },
        // A sidecar not started yet (no admin port): not a target.
        { id: 'details-v1.default', host: '127.0.0.1', adminPort: 0 },
      ]),
    ).toEqual([
      { targets: ['127.0.0.1:41002'], labels: { namespace: 'default', pod: 'reviews-v1' } },
      { targets: ['127.0.0.1:41001'], labels: { namespace: 'mast-system', pod: 'mast-ingressgateway' } },
      { targets: ['[::1]:41003'], labels: { namespace: 'shop', pod: 'api.v2' } },
    ]);
  });

  test("the prometheus.yml scrapes the proxies' /stats/prometheus through the admin port's discovery, and mastd's /metrics", () => {
    const config = parse(prometheusConfig({ admin: 'http://127.0.0.1:15000', scrapeInterval: '1s' }));
    expect(config.global).toEqual({ scrape_interval: '1s', evaluation_interval: '1s' });
    expect(config.scrape_configs).toEqual([
      {
        job_name: 'mast-proxies',
        metrics_path: '/stats/prometheus',
        http_sd_configs: [{ url: `http://127.0.0.1:15000${PROMETHEUS_PATHS.targets}`, refresh_interval: '5s' }],
      },
      { job_name: 'mastd', metrics_path: '/metrics', static_configs: [{ targets: ['127.0.0.1:15000'] }] },
    ]);
  });
});
