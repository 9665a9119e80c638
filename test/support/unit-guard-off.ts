/** Integration files run with sockets and processes: a unit guard left by a fully skipped file is undone (unit-guard-registry.ts). */
import { restoreUnitGuard } from './unit-guard-registry';

restoreUnitGuard();
