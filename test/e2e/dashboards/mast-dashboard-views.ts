/**
 * What each panel query of mast's dashboards shows for the e2e's traffic (dashboards.test.ts): the
 * bookinfo pages through the gateway (reviews v1/v2/v3, 500s from v2, 404s at the gateway), plain
 * requests from outside the mesh to reviews-v1, TCP to tcp-echo through the gateway and from
 * outside, and one config edit between the rounds. A view sets the variables as a user would pick
 * them; every query of every panel is expected in at least one view.
 */
import type { Expect, View } from './mast-dashboards';

export interface ViewScene {
  readonly gateway: { readonly name: string; readonly namespace: string };
  readonly tcpNamespace: string;
  readonly fqdn: (name: string, namespace?: string) => string;
}

const positive = (...labels: Array<Record<string, string>>): Expect => ({ value: 'positive', labels });
const ratio = (...labels: Array<Record<string, string>>): Expect => ({ value: 'ratio', labels });
const count: Expect = { value: 'count' };

export function mastViews(s: ViewScene): View[] {
  const dst = (...names: string[]) => names.map((destination_workload) => ({ destination_workload }));
  const src = (...names: string[]) => names.map((source_workload) => ({ source_workload }));
  const services = (...names: string[]) => names.map((n) => ({ destination_service: s.fqdn(n) }));
  const meshWorkloads = dst('productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1');
  const reviews = dst('reviews-v1', 'reviews-v2', 'reviews-v3');
  const tcpEcho = s.fqdn('tcp-echo', s.tcpNamespace);
  return [
    {
      dashboard: 'mast-mesh.json',
      name: 'the whole mesh',
      variables: {},
      panels: {
        Requests: positive(),
        'Success rate': ratio(),
        '4xx': positive(),
        '5xx': positive(),
        'Requests by workload': positive(...meshWorkloads),
        'Success rate by workload': ratio(...meshWorkloads),
        'Latency by workload': positive(...meshWorkloads),
        // Every workload called over mTLS by its mesh callers (reviews-v1 also in plain text from outside).
        'mTLS share by workload': { ...ratio(...meshWorkloads), peaks: [[{ destination_workload: 'ratings-v1' }, 1]] },
        'TCP bytes by workload': positive(...dst('tcp-echo-v1')),
        'TCP connections by workload': positive(...dst('tcp-echo-v1')),
        'Component versions': positive({ component: 'proxy' }, { component: 'pilot' }),
      },
    },
    {
      dashboard: 'mast-service.json',
      name: 'reviews',
      variables: { service: s.fqdn('reviews') },
      panels: {
        'Client requests': positive(),
        'Client success rate': ratio(),
        'Server requests': positive(),
        'Server success rate': ratio(),
        'Client request duration': positive(),
        'Server request duration': positive(),
        'Requests by caller and response code': positive(
          { source_workload: 'productpage-v1', response_code: '200' },
          { source_workload: 'productpage-v1', response_code: '500' },
          // The client outside the mesh, in plain text to reviews-v1's sidecar.
          { source_workload: 'unknown', response_code: '200' },
        ),
        // The outside client's requests all answered 200; productpage's over mTLS, the outside client's in plain text.
        'Success rate by caller': { ...ratio(...src('productpage-v1', 'unknown')), peaks: [[{ source_workload: 'unknown' }, 1]] },
        'Request duration by caller': positive(...src('productpage-v1', 'unknown')),
        'mTLS share by caller': {
          ...ratio(...src('productpage-v1', 'unknown')),
          peaks: [
            [{ source_workload: 'productpage-v1' }, 1],
            [{ source_workload: 'unknown' }, 0],
          ],
        },
        'Request size by caller': positive(...src('productpage-v1', 'unknown')),
        'Response size by caller': positive(...src('productpage-v1', 'unknown')),
        'Requests by workload and response code': positive(...reviews.map((r) => ({ ...r, response_code: '200' })), {
          destination_workload: 'reviews-v2',
          response_code: '500',
        }),
        'Success rate by workload': ratio(...reviews),
        'Request duration by workload': positive(...reviews),
        'Traffic split by workload': ratio(...reviews),
      },
    },
    {
      dashboard: 'mast-service.json',
      name: 'tcp-echo',
      variables: { service: tcpEcho },
      panels: {
        // Through the gateway (mTLS), and from outside the mesh in plain text.
        'TCP bytes by caller': positive(...src(s.gateway.name, 'unknown')),
        'TCP connections by caller': positive(...src(s.gateway.name, 'unknown')),
      },
    },
    {
      dashboard: 'mast-workload.json',
      name: 'productpage-v1',
      variables: { namespace: 'default', workload: 'productpage-v1' },
      panels: {
        'Inbound requests': positive(),
        'Inbound success rate': ratio(),
        'Outbound requests': positive(),
        'Outbound success rate': ratio(),
        'Requests by caller and response code': positive({ source_workload: s.gateway.name, response_code: '200' }),
        'Success rate by caller': ratio(...src(s.gateway.name)),
        'Request duration by caller': positive(...src(s.gateway.name)),
        'mTLS share by caller': { ...ratio(...src(s.gateway.name)), peaks: [[{ source_workload: s.gateway.name }, 1]] },
        'Request and response size by caller': positive(...src(s.gateway.name)),
        'Requests by destination and response code': positive(
          { destination_service: s.fqdn('details'), response_code: '200' },
          { destination_service: s.fqdn('reviews'), response_code: '200' },
          { destination_service: s.fqdn('reviews'), response_code: '500' },
        ),
        'Success rate by destination': ratio(...services('details', 'reviews')),
        'Request duration by destination': positive(...services('details', 'reviews')),
        'Requests by destination workload': positive(...dst('details-v1'), ...reviews),
      },
    },
    {
      dashboard: 'mast-workload.json',
      name: 'tcp-echo-v1',
      variables: { namespace: s.tcpNamespace, workload: 'tcp-echo-v1' },
      panels: {
        'Inbound TCP bytes by caller': positive(...src(s.gateway.name, 'unknown')),
        'TCP connections': [positive(...src(s.gateway.name, 'unknown')), undefined],
      },
    },
    {
      dashboard: 'mast-workload.json',
      name: 'the ingress gateway',
      variables: { namespace: s.gateway.namespace, workload: s.gateway.name },
      panels: {
        'Outbound TCP bytes by destination': positive({ destination_service: tcpEcho }),
        'TCP connections': [undefined, positive({ destination_service: tcpEcho })],
      },
    },
    {
      dashboard: 'mast-control-plane.json',
      name: 'mastd',
      variables: {},
      panels: {
        'mastd versions': positive(),
        CPU: positive(),
        Memory: positive(),
        Pushes: positive(...['cds', 'eds', 'lds', 'rds'].map((type) => ({ type }))),
        // The edit between the rounds: one DestinationRule updated, one snapshot pushed for it.
        'Push triggers': positive({ type: 'config' }),
        'Config events': [
          positive({ type: 'DestinationRule', event: 'update' }),
          { value: 'empty', why: "mast local's config is mesh kinds only: no Services, Pods or Endpoints make a registry" },
        ],
        'Connected proxies': positive(),
        'Push time': positive(),
        'Config size': positive(),
        Convergence: positive(),
        Errors: count,
        'Certificates issued': count,
      },
    },
  ];
}
