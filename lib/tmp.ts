// osync-ts's own temporary directories on this host (listings, an empty rsync source, a
// trash probe): made here, named "osync-ts.<kind>.XXXXXX", removed by the step that made
// them. A run killed with SIGKILL (or a power loss) cannot remove its own, so the hourly
// purge removes those a day old.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type TempKind = 'list' | 'empty' | 'probe';

const OURS = /^osync-ts\.(list|empty|probe)\.[A-Za-z0-9]{6}$/;
const STALE_MS = 24 * 3600 * 1000;

export function makeTempDir(kind: TempKind): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `osync-ts.${kind}.`));
}

/** Remove our temporary directories not touched for a day (owned by this user): the names
 *  of those removed. Never throws. */
export function sweepStaleTempDirs(dir = os.tmpdir(), now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!OURS.test(name)) continue;
    const p = path.join(dir, name);
    try {
      const st = fs.lstatSync(p);
      if (!st.isDirectory() || now - st.mtimeMs < STALE_MS || st.uid !== process.getuid?.()) continue;
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(name);
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
  return removed;
}
