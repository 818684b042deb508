// Test-only hooks. testPoint: with OSYNC_TS_TEST_PAUSE_AT=<point>[,<point>…] in the environment,
// the run stops dead at that point (writing the point's name to OSYNC_TS_TEST_PAUSE_FILE
// first) for up to 60 s, so a test can kill it there. Blocking on purpose: nothing else
// of the run moves while it waits. testFailure: see below. Unset, each costs one
// environment lookup.
import fs from 'node:fs';

const wanted = new Set((process.env.OSYNC_TS_TEST_PAUSE_AT ?? '').split(',').filter(Boolean));

export function testPoint(point: string): void {
  if (!wanted.has(point)) return;
  const file = process.env.OSYNC_TS_TEST_PAUSE_FILE;
  if (file) fs.writeFileSync(file, point);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
}

const failAt = new Set((process.env.OSYNC_TS_TEST_FAIL_AT ?? '').split(',').filter(Boolean));

/** Test-only: with OSYNC_TS_TEST_FAIL_AT=<point>[,<point>…], throw an unexpected error
 *  there (a bug stand-in), to check how a run unwinds from one. */
export function testFailure(point: string): void {
  if (failAt.has(point)) throw new Error(`test failure at ${point}`);
}
