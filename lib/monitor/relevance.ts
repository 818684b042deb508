// Which watched changes call for a sync. A change the sync would not look at (inside
// .osync_workdir, or excluded by the task's rsync patterns) must not start one, or
// every sync would start the next (the state it writes) and an excluded cache directory
// would keep the daemon busy.
//
// The patterns are rsync's (RSYNC_INCLUDE/EXCLUDE_PATTERN, the *_FROM files,
// RSYNC_PATTERN_FIRST), so rsync itself decides, with the very arguments the listings
// use (patternArgs): the changed paths are recreated as empty files and directories in
// a scratch tree, rsync copies that tree with the patterns, and a path that arrives is
// one the sync sees. One small local rsync per burst of changes, and none at all when
// the task has no patterns (then every change counts).
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { patternArgs } from '../proc/rsync.js';
import type { Runner } from '../proc/run.js';
import { WORKDIR } from '../replica.js';
import { makeTempDir } from '../tmp.js';
import type { WatchEvent } from './watch.js';

/** Written into the initiator by a target helper (osync's or ours) to ask for a sync. */
export const PUSH_FILE = '.osync-update.push';

/** At most this many paths are recreated per rsync check. */
const CHECK_BATCH = 500;

export function hasUserPatterns(c: Config): boolean {
  if (c.rsyncPatternFirst === 'none') return false;
  return c.rsyncIncludePattern.length > 0 || c.rsyncExcludePattern.length > 0 || c.rsyncIncludeFrom !== '' || c.rsyncExcludeFrom !== '';
}

export class ChangeFilter {
  private readonly patterns: boolean;

  /** `pushTriggers`: a write to the push file at the root counts (the initiator's watch). */
  constructor(private readonly config: Config, private readonly runner: Runner, private readonly pushTriggers: boolean) {
    this.patterns = hasUserPatterns(config);
  }

  /** The first of the events that is a change the next sync would act on (its path,
   *  or a description), or null when there is none. */
  async matters(events: WatchEvent[]): Promise<string | null> {
    const candidates = new Map<string, boolean>();
    for (const e of events) {
      if (e.overflow) return '(event queue overflow)';
      if (e.path === '') continue; // the root itself: its entries have their own events
      if (e.path === PUSH_FILE) {
        if (this.pushTriggers) return PUSH_FILE;
        continue;
      }
      if (e.path.split('/').includes(WORKDIR)) continue;
      candidates.set(e.path, e.dir);
    }
    if (candidates.size === 0) return null;
    if (!this.patterns) return candidates.keys().next().value!;
    const all = [...candidates];
    for (let i = 0; i < all.length; i += CHECK_BATCH) {
      const hit = await this.passesPatterns(all.slice(i, i + CHECK_BATCH));
      if (hit !== null) return hit;
    }
    return null;
  }

  /** Recreate the paths in a scratch tree and let rsync apply the patterns: the first
   *  path that passes, or null. */
  private async passesPatterns(paths: [string, boolean][]): Promise<string | null> {
    const scratch = makeTempDir('probe');
    try {
      const from = path.join(scratch, 'from');
      const to = path.join(scratch, 'to');
      fs.mkdirSync(from);
      fs.mkdirSync(to);
      // Names are latin1 strings holding the raw bytes: go back to bytes for the file system.
      const under = (dir: string, rel: string) => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(rel, 'latin1')]);
      const made: string[] = [];
      for (const [rel, dir] of paths) {
        try {
          const p = under(from, rel);
          const parent = rel.includes('/') ? under(from, rel.slice(0, rel.lastIndexOf('/'))) : null;
          if (parent) fs.mkdirSync(parent, { recursive: true });
          if (dir) fs.mkdirSync(p, { recursive: true });
          else fs.closeSync(fs.openSync(p, 'a'));
          made.push(rel);
        } catch {
          return rel; // a path that cannot be recreated (a file and a directory of one name): count it
        }
      }
      const r = await this.runner.run([this.config.rsyncExecutable, '-r', ...patternArgs(this.config), `${from}/`, `${to}/`]);
      if (r.exitCode !== 0) return made[0] ?? null; // when in doubt, sync
      return made.find((rel) => fs.existsSync(under(to, rel))) ?? null;
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
}
