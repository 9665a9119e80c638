/** Resident memory of a process, as the kernel counts it (VmRSS in /proc/<pid>/status), in MB. */
import { readFileSync } from 'node:fs';

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status (a zombie?)`);
  return Math.round((Number(kb[1]) / 1024) * 10) / 10;
}
