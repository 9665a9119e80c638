/**
 * Every command's usage line, spelled once: the command prints it on a usage error, `mast --help`
 * lists them all. Kept apart from the commands so that the help loads none of them.
 */
import { LOCAL_MONITORING_URL, PORTS } from '../api/well-known';

export const USAGE = {
  validate: 'mast validate -f <file|dir> [-f ...] [--output text|json] [--no-default-gateway]',
  synth: 'mast synth -f <file|dir> [-f ...] [--out dist] [--gateway-service LoadBalancer|ClusterIP|NodePort] [--dashboards]',
  inject: 'mast inject -f <file|dir> [-f ...] [-o <file>] [--proxy-image <image>] [--namespace-label <ns>=<label>=<value> ...]',
  local: `mast local -f <file|dir> [-f ...] [--gateway-port 8080] [--admin-port ${PORTS.proxyAdmin}] [--access-log] [--ready-timeout 60] [--intercept]`,
  images: 'mast images [--engine docker|podman|buildah] [--dry-run]',
  kind: 'mast kind up|down|smoke [--name mast] [--dist dist] [--http-port 8080] [--engine docker|podman|buildah] [--url http://127.0.0.1:8080] [--dry-run]',
  dns: 'mast dns check -f <mesh file|dir> --zone-id <id> --nlb <NLB DNS name> [--region <region>]',
  'proxy-status': `mast proxy-status [--mastd ${LOCAL_MONITORING_URL}] [--output text|json]`,
  version: 'mast version',
} as const;
