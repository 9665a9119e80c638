/** The unit project's guard holds: in a unit test, a socket, a listener or a process is an error naming the call. */
import * as childProcess from 'node:child_process';
import * as net from 'node:net';

test('listening, connecting and starting a process fail in a unit test', () => {
  expect(() => net.createServer().listen(0)).toThrow(/a unit test may not listen on a port \(listen\)/);
  expect(() => net.connect(1, '127.0.0.1')).toThrow(/a unit test may not open a socket \(connect\)/);
  expect(() => childProcess.spawnSync(process.execPath, ['-e', '0'])).toThrow(/a unit test may not start a process \(spawnSync\)/);
  expect(() => childProcess.execFile(process.execPath)).toThrow(/may not start a process \(execFile\)/);
});
