import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/**
 * Puts the calling thread at the lowest CPU priority (nice 19), leaving the rest of the process
 * alone. Linux only (a thread's id is its name under /proc/thread-self, and setpriority on a
 * thread id applies to that thread); elsewhere nothing changes.
 */
export function runThisThreadInBackground(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch {
    // No /proc (not Linux): the thread keeps the process's priority.
  }
}
