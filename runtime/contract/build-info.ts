/**
 * What every mast component says about its build: the version (the package's), under Istio's
 * `istio_build` gauge, which the Mesh dashboard's "Istio Component Versions" panel reads.
 */
import { MAST_VERSION } from '../../api/well-known';

export { MAST_VERSION };

/** Istio's component names: `proxy` for sidecars and gateways, `pilot` for the control plane. */
export type BuildComponent = 'proxy' | 'pilot';

export const BUILD_INFO_HELP = 'The build of this component: always 1, its version in the tag label.';

/** The `istio_build` family (HELP, TYPE, its one sample) for a component. */
export function buildInfoLines(component: BuildComponent): string[] {
  return [
    `# HELP istio_build ${BUILD_INFO_HELP}`,
    '# TYPE istio_build gauge',
    `istio_build{component="${component}",tag="${MAST_VERSION}"} 1`,
  ];
}
