/** Image tags default to the package version so synth output is pinned, never `latest`. */
import { MAST_VERSION } from '../api/well-known';

export { MAST_VERSION };
export const DEFAULT_PROXY_IMAGE = `mast/proxy:${MAST_VERSION}`;
export const DEFAULT_CONTROL_IMAGE = `mast/control:${MAST_VERSION}`;
export { SYSTEM_NAMESPACE } from '../api/well-known';
export const PROXY_UID = 1337;
