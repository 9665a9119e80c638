/** Scraping as Istio's injector sets it up: pods annotated for the sidecar's status port, an app's own scrape merged there. */
import type { KubeObject } from '../../api';
import { injectManifests } from '../../constructs';
import { scrapeAnnotations } from '../../constructs/sidecar';

const deployment = (annotations?: Record<string, string>) =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'cart', namespace: 'shop' },
    spec: {
      selector: { matchLabels: { app: 'cart' } },
      template: {
        metadata: { labels: { app: 'cart', 'sidecar.istio.io/inject': 'true' }, ...(annotations ? { annotations } : {}) },
        spec: { containers: [{ name: 'cart', image: 'example/cart:1', ports: [{ containerPort: 8080 }] }] },
      },
    },
  }) as unknown as KubeObject;

const injected = (annotations?: Record<string, string>): any =>
  (injectManifests([deployment(annotations)]).objects[0] as any).spec.template;
const proxyEnv = (template: any): Record<string, string> =>
  Object.fromEntries(template.spec.initContainers.find((c: any) => c.name === 'mast-proxy').env.map((e: any) => [e.name, e.value ?? null]));

const SIDECAR_SCRAPE = { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'prometheus.io/path': '/stats/prometheus' };

describe('scrape annotations', () => {
  test('an injected pod is scraped at the sidecar status port; the proxy knows its workload (the Deployment)', () => {
    const t = injected();
    expect(t.metadata.annotations).toEqual(SIDECAR_SCRAPE);
    expect(proxyEnv(t)).toMatchObject({ MAST_WORKLOAD_NAME: 'cart' });
    expect(proxyEnv(t)).not.toHaveProperty('MAST_PROMETHEUS_ANNOTATIONS');
  });

  test("an app's own prometheus.io annotations move to the proxy, which serves them merged", () => {
    const t = injected({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102', 'prometheus.io/path': '/metrics/app', team: 'a' });
    expect(t.metadata.annotations).toEqual({ ...SIDECAR_SCRAPE, team: 'a' });
    expect(JSON.parse(proxyEnv(t).MAST_PROMETHEUS_ANNOTATIONS)).toEqual({ scrape: 'true', port: '9102', path: '/metrics/app' });
  });

  test.each([
    [{ 'prometheus.io/scrape': 'false' }],
    [{ 'prometheus.istio.io/merge-metrics': 'false', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102' }],
  ])('left as written: %j', (annotations) => {
    expect(scrapeAnnotations(annotations)).toEqual({ annotations });
    expect(proxyEnv(injected(annotations))).not.toHaveProperty('MAST_PROMETHEUS_ANNOTATIONS');
  });
});
