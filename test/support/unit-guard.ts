/**
 * The unit layer's promise, held: a test file of `npm run test:unit` that opens a socket, listens,
 * or starts a process fails at that call, naming it. (A test that needs one belongs to the
 * integration project, see jest.config.js.) Undone after the file, since jest reuses its workers.
 */
import * as net from 'node:net';
import { patches, restoreUnitGuard } from './unit-guard-registry';

// The module object itself (require, not `import * as`: the compiled namespace import is a copy,
// and patching a copy would leave the tests' calls untouched).
const childProcess: Record<string, unknown> = require('node:child_process');

// A guard a previous file left in place (its tests all skipped, its afterAll not run) is undone first.
restoreUnitGuard();
const patched = patches();

function forbid(owner: object, name: string, what: string): void {
  const record = owner as Record<string, unknown>;
  patched.push([owner, name, record[name]]);
  record[name] = () => {
    throw new Error(`a unit test may not ${what} (${name}): move this test to the integration project (jest.config.js)`);
  };
}

for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'])
  forbid(childProcess, name, 'start a process');
forbid(net.Server.prototype, 'listen', 'listen on a port');
forbid(net.Socket.prototype, 'connect', 'open a socket');

afterAll(restoreUnitGuard);
