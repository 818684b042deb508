// The planner: previous state + two listings in, a list of actions out.
// Pure: no file system, no processes, no clock.
//
// Each path is classified on each side against the state left by the last
// completed run (the base), then reconciled:
//   unchanged / changed on one side       → copy from the side that changed
//   changed on both and now different     → conflict: newer mtime wins, ties go to
//                                            CONFLICT_PREVALANCE; the loser is backed up
//   deleted on one side, unchanged on the other → delete there (soft)
//   deleted on one side, changed on the other   → keep the changed one (osync deletes it)
// When the base has paths but no metadata (state written by osync.sh), a path present
// on both sides counts as "unknown": it is compared by mtime as osync does.
import type { Side, SyncType } from '../config/types.js';
import type { Entry, Listing } from '../detect/parse-listing.js';

export type SideState = 'absent' | 'new' | 'deleted' | 'unchanged' | 'modified' | 'unknown';

/** What the last completed run left: path → entry (null when only the path is known). */
export type BaseListing = Map<string, Entry | null>;

export interface PlanPolicy {
  prevalence: Side;
  skipDeletion: Side[];
  syncType: SyncType;
  checksum: boolean;
  preservePermissions: boolean;
  preserveExecutability: boolean;
  /** PRESERVE_OWNER / PRESERVE_GROUP: a chown/chgrp on one side is a change there. */
  preserveOwner?: boolean;
  preserveGroup?: boolean;
}

export type Reason =
  | 'new'                  // exists on one side only and never was on the other
  | 'modified'             // changed on one side, unchanged on the other
  | 'attributes'           // only the mode changed
  | 'conflict-newer'       // changed on both sides: the newer one wins
  | 'conflict-prevalence'  // changed on both with the same mtime: CONFLICT_PREVALANCE wins
  | 'kept-over-deletion'   // deleted on one side but changed on the other: kept
  | 'holds-kept-content'   // a deleted directory that still holds kept content
  | 'checksum'             // looks equal, content compared by rsync --checksum
  | 'deleted'              // deleted on the other side
  | 'mirror'               // unidirectional sync: make the destination like the source
  | 'skip-deletion';       // deletion not propagated (SKIP_DELETION)

export type Action =
  | {
      kind: 'copy';
      path: string;
      from: Side;
      to: Side;
      reason: Reason;
      overwrites: boolean;
      /** Listed alike on both sides (size, mtime) although the content differs: rsync must
       *  not skip it by size and mtime. */
      listedAlike?: boolean;
    }
  | { kind: 'delete'; path: string; on: Side; reason: Reason; into: 'deleted' | 'backup' }
  | { kind: 'skip'; path: string; on: Side; reason: Reason };

export interface Plan {
  actions: Action[];
  /** Paths changed on both sides (resolved by the actions above; logged with LOG_CONFLICTS). */
  conflicts: string[];
  /** Paths deleted on each side since the last run (osync's deleted lists, collapsed). */
  deletedOn: Record<Side, string[]>;
  /** Every path is unchanged on both sides since the base: nothing to do or to record. */
  settled: boolean;
}

export const other = (s: Side): Side => (s === 'initiator' ? 'target' : 'initiator');

/** Parent directories of a rendered path, nearest first. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) out.push(path.slice(0, i));
  return out;
}

/** Whether an ancestor directory of `path` passes `test` (nearest first, no list made:
 *  asked for every path of a big plan). */
export function someAncestor(path: string, test: (dir: string) => boolean): boolean {
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) if (test(path.slice(0, i))) return true;
  return false;
}

function execBits(mode: string): string {
  return mode[3] + mode[6] + mode[9];
}

/** Same content and type (attributes aside). Directories are always equal by content. */
export function sameContent(a: Entry, b: Entry): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'd') return true;
  if (a.type === 'l') return a.target === b.target;
  // A fifo, socket or device has no content to compare: its kind and its time.
  if (a.type === 's') return a.mode[0] === b.mode[0] && a.mtime === b.mtime;
  return a.size === b.size && a.mtime === b.mtime;
}

function sameAttributes(a: Entry, b: Entry, p: PlanPolicy): boolean {
  if (a.type === 'l' || b.type === 'l') return true;
  if (p.preservePermissions) return a.mode === b.mode;
  if (p.preserveExecutability && a.type === 'f') return execBits(a.mode) === execBits(b.mode);
  return true;
}

function sameEntry(a: Entry, b: Entry, p: PlanPolicy): boolean {
  return sameContent(a, b) && sameAttributes(a, b, p);
}

/** Owner and group of one path on ONE side, then and now (numeric ids are only
 *  comparable on the same host; an unknown id, just after a copy, never differs). */
function sameOwnership(before: Entry, now: Entry, p: PlanPolicy): boolean {
  if (p.preserveOwner && before.uid !== undefined && now.uid !== undefined && before.uid !== now.uid) return false;
  if (p.preserveGroup && before.gid !== undefined && now.gid !== undefined && before.gid !== now.gid) return false;
  return true;
}

export function classify(base: BaseListing | null, now: Listing, path: string, p: PlanPolicy): SideState {
  return classifyEntries(base ? base.get(path) : undefined, now.get(path), p);
}

/** classify, given the path's base entry (undefined: not in the base; null: path only)
 *  and its entry now (one lookup each: every path of a big plan goes through here). */
function classifyEntries(before: Entry | null | undefined, cur: Entry | undefined, p: PlanPolicy): SideState {
  if (!cur) return before !== undefined ? 'deleted' : 'absent';
  if (before === undefined) return 'new';
  if (!before) return 'unknown';
  return sameEntry(before, cur, p) && sameOwnership(before, cur, p) ? 'unchanged' : 'modified';
}

/** Collapse deleted paths to their topmost deleted directory, sorted bytewise. */
export function collapse(paths: Iterable<string>): string[] {
  const set = new Set(paths);
  return [...set].filter((x) => !someAncestor(x, (a) => set.has(a))).sort();
}

export interface PlanInput {
  base: Record<Side, BaseListing | null>;
  now: Record<Side, Listing>;
  policy: PlanPolicy;
  /** Paths a side's listing could not see into (a directory it could not read, an entry
   *  it could not stat). Nothing at or below one is acted on, on either side: what is
   *  missing there was not seen, not deleted. */
  unlisted?: Record<Side, readonly string[]>;
  /** Per side, the base's files marked racily clean (lib/state/files.ts): listed in the
   *  second their run listed them, so an edit later in that second could list the same. */
  racy?: Record<Side, ReadonlySet<string>>;
  /** Of the paths contentSuspects named, those whose content rsync found different. */
  contentDiffers?: ReadonlySet<string>;
  /** For such a path changed on both sides, the side whose file is newer to the
   *  nanosecond, where both times could be read. */
  newer?: ReadonlyMap<string, Side>;
}

/** Whether the content of a file may have changed on side `s` since the base although
 *  the listings cannot show it: it is new or listed differently there (another size or
 *  mtime), or racily clean. A path-only base (osync.sh's state) says nothing: as osync,
 *  size and mtime decide. */
function mayHaveChanged(input: PlanInput, s: Side, path: string): boolean {
  const before = input.base[s]?.get(path);
  const cur = input.now[s].get(path);
  if (before === null || !cur) return false;
  if (before === undefined || before.type !== 'f' || before.size !== cur.size || before.mtime !== cur.mtime) return true;
  return !!input.racy?.[s].has(path);
}

/**
 * Files listed alike on both replicas (same size and mtime) whose content must still be
 * compared: changed on both sides since the last run (two edits that ended at the same
 * size in the same second), or racily clean on either side. Not on a first run (no base:
 * two replicas filled beforehand are taken as they list, as osync and rsync do), nor with
 * CHECKSUM (every transfer compares content then). lib/sync.ts has rsync compare them and
 * passes the result back as `contentDiffers`.
 */
export function contentSuspects(input: PlanInput): string[] {
  const { base, now, policy } = input;
  if (policy.syncType !== 'bidirectional' || policy.checksum || !base.initiator || !base.target) return [];
  const unlisted = unlistedSet(input);
  const out: string[] = [];
  for (const [path, i] of now.initiator) {
    const t = now.target.get(path);
    if (!t || i.type !== 'f' || !sameContent(i, t) || under(unlisted, path)) continue;
    if (mayHaveChanged(input, 'initiator', path) || mayHaveChanged(input, 'target', path)) out.push(path);
  }
  return out.sort();
}

/** Of the paths found different, those that may have changed on both sides (a conflict,
 *  to be resolved by the finer mtimes `newer`, else CONFLICT_PREVALANCE). */
export function contentConflicts(input: PlanInput): string[] {
  return [...(input.contentDiffers ?? [])].filter((p) => mayHaveChanged(input, 'initiator', p) && mayHaveChanged(input, 'target', p)).sort();
}

/** Whether a path is at or below one of `roots` (none: never). */
function under(roots: ReadonlySet<string>, path: string): boolean {
  return roots.size > 0 && (roots.has(path) || someAncestor(path, (d) => roots.has(d)));
}

function unlistedSet(input: PlanInput): Set<string> {
  return new Set([...(input.unlisted?.initiator ?? []), ...(input.unlisted?.target ?? [])]);
}

export function planSync(input: PlanInput): Plan {
  return input.policy.syncType === 'bidirectional' ? planBidirectional(input) : planMirror(input);
}

function planBidirectional(input: PlanInput): Plan {
  const { base, now, policy } = input;
  const paths = new Set<string>();
  for (const s of ['initiator', 'target'] as const) {
    for (const k of now[s].keys()) paths.add(k);
    if (base[s]) for (const k of base[s]!.keys()) paths.add(k);
  }
  const decided = new Map<string, Action>();
  const conflicts: string[] = [];
  const deletedOn: Record<Side, string[]> = { initiator: [], target: [] };
  const unlisted = unlistedSet(input);
  let settled = unlisted.size === 0;

  const copy = (path: string, from: Side, reason: Reason): Extract<Action, { kind: 'copy' }> => ({
    kind: 'copy',
    path,
    from,
    to: other(from),
    reason,
    overwrites: now[other(from)].has(path),
  });

  for (const path of paths) {
    if (under(unlisted, path)) continue;
    const i = now.initiator.get(path);
    const t = now.target.get(path);
    const st: Record<Side, SideState> = {
      initiator: classifyEntries(base.initiator ? base.initiator.get(path) : undefined, i, policy),
      target: classifyEntries(base.target ? base.target.get(path) : undefined, t, policy),
    };
    for (const s of ['initiator', 'target'] as const) if (st[s] === 'deleted') deletedOn[s].push(path);
    if (st.initiator !== 'unchanged' || st.target !== 'unchanged') settled = false;

    if (i && t) {
      if (sameContent(i, t) && input.contentDiffers?.has(path)) {
        // Listed alike, but rsync found their content different: whoever changed it wins;
        // both may have, in the same second: a conflict (the newer to the nanosecond wins).
        const mi = mayHaveChanged(input, 'initiator', path);
        if (mi !== mayHaveChanged(input, 'target', path)) {
          decided.set(path, { ...copy(path, mi ? 'initiator' : 'target', 'modified'), listedAlike: true });
          continue;
        }
        conflicts.push(path);
        const newer = input.newer?.get(path);
        decided.set(path, { ...copy(path, newer ?? policy.prevalence, newer ? 'conflict-newer' : 'conflict-prevalence'), listedAlike: true });
        continue;
      }
      if (sameContent(i, t)) {
        if (!sameAttributes(i, t, policy)) {
          const from = changedSide(st) ?? policy.prevalence;
          decided.set(path, copy(path, from, 'attributes'));
        } else if (policy.checksum && i.type === 'f') {
          decided.set(path, copy(path, policy.prevalence, 'checksum'));
        } else {
          // Equal content and mode, yet one side changed: its owner or group (chown).
          const one = changedSide(st);
          if (one) decided.set(path, copy(path, one, 'attributes'));
        }
        continue;
      }
      const one = changedSide(st);
      if (one) {
        decided.set(path, copy(path, one, 'modified'));
        continue;
      }
      conflicts.push(path);
      if (i.type !== t.type || i.mtime === t.mtime) {
        // A type clash or a tie: the prevalent side wins, as osync's first rsync pass does.
        decided.set(path, copy(path, policy.prevalence, 'conflict-prevalence'));
      } else {
        decided.set(path, copy(path, i.mtime > t.mtime ? 'initiator' : 'target', 'conflict-newer'));
      }
      continue;
    }

    const present: Side | null = i ? 'initiator' : t ? 'target' : null;
    if (!present) continue; // gone from both: nothing to do
    const missing = other(present);
    if (st[missing] === 'deleted') {
      if (st[present] === 'unchanged' || st[present] === 'unknown') {
        decided.set(path, { kind: 'delete', path, on: present, reason: 'deleted', into: 'deleted' });
      } else {
        decided.set(path, copy(path, present, 'kept-over-deletion'));
      }
    } else {
      decided.set(path, copy(path, present, 'new'));
    }
  }

  keepAncestorsOfCopies(decided, now);
  dropInsideReplacedTypes(decided, now);
  const actions = finish(decided, policy);
  conflicts.sort();
  return {
    actions,
    conflicts,
    deletedOn: { initiator: collapse(deletedOn.initiator), target: collapse(deletedOn.target) },
    settled: settled && actions.length === 0,
  };
}

/** The single side that changed, when exactly one did (new counts as changed). */
function changedSide(st: Record<Side, SideState>): Side | null {
  const changed = (x: SideState) => x === 'modified' || x === 'new';
  const quiet = (x: SideState) => x === 'unchanged';
  if (changed(st.initiator) && quiet(st.target)) return 'initiator';
  if (changed(st.target) && quiet(st.initiator)) return 'target';
  return null;
}

/** Content copied to a side needs its parent directories there: a directory that was
 *  deleted on that side but holds kept or new content is recreated, not deleted. */
function keepAncestorsOfCopies(decided: Map<string, Action>, now: Record<Side, Listing>): void {
  for (const action of [...decided.values()]) {
    if (action.kind !== 'copy') continue;
    for (const dir of ancestors(action.path)) {
      const a = decided.get(dir);
      if (a?.kind === 'delete' && a.on === action.from && now[action.from].get(dir)?.type === 'd') {
        decided.set(dir, { kind: 'copy', path: dir, from: action.from, to: action.to, reason: 'holds-kept-content', overwrites: false });
      }
    }
  }
}

/** When a path is replaced by another type, whatever lay below it on the losing side
 *  goes with it (rsync backs it up): no separate actions for those paths. */
function dropInsideReplacedTypes(decided: Map<string, Action>, now: Record<Side, Listing>): void {
  const replaced: Record<Side, Set<string>> = { initiator: new Set(), target: new Set() };
  let any = false;
  for (const a of decided.values()) {
    if (a.kind !== 'copy') continue;
    const dest = now[a.to].get(a.path);
    const src = now[a.from].get(a.path);
    if (dest && src && dest.type === 'd' && src.type !== 'd') {
      replaced[a.to].add(a.path);
      any = true;
    }
  }
  if (!any) return;
  for (const [path, a] of [...decided]) {
    // A copy is dropped when the replaced directory is on either end: on its
    // destination the content is backed up with the directory, and from its source
    // it would recreate (through rsync's implied directories) the very directory
    // the other copy replaces, leaving the replicas different (a file on one side,
    // a directory on the other).
    const sides: Side[] = a.kind === 'copy' ? [a.to, a.from] : [a.on];
    if (someAncestor(path, (d) => sides.some((side) => replaced[side].has(d)))) decided.delete(path);
  }
}

/** Collapse deletions under deleted directories, apply SKIP_DELETION, sort. */
function finish(decided: Map<string, Action>, policy: PlanPolicy): Action[] {
  const deletes: Record<Side, Set<string>> = { initiator: new Set(), target: new Set() };
  for (const a of decided.values()) if (a.kind === 'delete') deletes[a.on].add(a.path);
  const out: Action[] = [];
  for (const a of decided.values()) {
    if (a.kind === 'delete') {
      if (someAncestor(a.path, (d) => deletes[a.on].has(d))) continue;
      if (policy.skipDeletion.includes(a.on)) {
        out.push({ kind: 'skip', path: a.path, on: a.on, reason: 'skip-deletion' });
        continue;
      }
    }
    out.push(a);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** SYNC_TYPE=initiator2target / target2initiator: one-way, as osync's single
 *  `rsync -u --delete-after` pass (a newer destination file is left alone;
 *  files removed from the destination go to its backup/ folder). */
function planMirror(input: PlanInput): Plan {
  const { now, policy } = input;
  const from: Side = policy.syncType === 'initiator2target' ? 'initiator' : 'target';
  const to = other(from);
  const decided = new Map<string, Action>();
  const unlisted = unlistedSet(input);
  for (const [path, src] of now[from]) {
    if (under(unlisted, path)) continue;
    const dest = now[to].get(path);
    if (dest && sameEntry(src, dest, policy)) continue;
    if (dest && dest.type === 'f' && src.type === 'f' && dest.mtime > src.mtime) continue;
    decided.set(path, { kind: 'copy', path, from, to, reason: 'mirror', overwrites: !!dest });
  }
  for (const path of now[to].keys()) {
    if (!now[from].has(path) && !under(unlisted, path)) decided.set(path, { kind: 'delete', path, on: to, reason: 'mirror', into: 'backup' });
  }
  dropInsideReplacedTypes(decided, now);
  const actions = finish(decided, policy);
  return { actions, conflicts: [], deletedOn: { initiator: [], target: [] }, settled: actions.length === 0 };
}

/** The base's racily clean files that the after state keeps as the base had them (below
 *  an action not done, or a path not listed): they must stay marked, or the next run would
 *  no longer compare them. */
export function keptRacy(input: PlanInput, notDone: Set<Action>): Record<Side, Set<string>> {
  const roots = new Set([...[...notDone].map((a) => a.path), ...unlistedSet(input)]);
  const keep = (s: Side) => new Set([...(input.racy?.[s] ?? [])].filter((p) => under(roots, p)));
  return { initiator: keep('initiator'), target: keep('target') };
}

/** Drop every key that is one of `roots` or lies below one. */
function removeTrees(m: BaseListing, roots: Set<string>): void {
  if (!roots.size) return;
  for (const k of [...m.keys()]) if (roots.has(k) || someAncestor(k, (d) => roots.has(d))) m.delete(k);
}

/** The listings both replicas will have once the plan is applied; an action that
 *  failed, and an unlisted path, leave the path (and what lies below it) as the base had
 *  it, so the next run sees the same change again and retries it. */
export function expectedAfter(input: PlanInput, actions: Action[], failed: Set<Action>): Record<Side, BaseListing> {
  const after: Record<Side, BaseListing> = {
    initiator: new Map(input.now.initiator),
    target: new Map(input.now.target),
  };
  const removed: Record<Side, Set<string>> = { initiator: new Set(), target: new Set() };
  const copied: Array<Extract<Action, { kind: 'copy' }>> = [];
  for (const a of actions) {
    if (failed.has(a)) continue;
    if (a.kind === 'delete') removed[a.on].add(a.path);
    if (a.kind === 'copy') {
      copied.push(a);
      const dest = input.now[a.to].get(a.path);
      if (dest?.type === 'd' && input.now[a.from].get(a.path)!.type !== 'd') removed[a.to].add(a.path);
    }
  }
  for (const s of ['initiator', 'target'] as const) removeTrees(after[s], removed[s]);
  // The copy's owner on the other host is whatever rsync maps it to (or keeps, as a
  // non-root receiver): unknown until the next run lists it.
  for (const a of copied) {
    const { uid: _uid, gid: _gid, ...entry } = input.now[a.from].get(a.path)!;
    after[a.to].set(a.path, entry);
  }
  // What was not seen stays as the base had it, too: the next run looks again.
  for (const p of [...[...failed].map((a) => a.path), ...unlistedSet(input)]) {
    for (const s of ['initiator', 'target'] as const) {
      removeTrees(after[s], new Set([p]));
      const base = input.base[s];
      if (!base) continue;
      const prefix = p + '/';
      for (const [k, v] of base) if (k === p || k.startsWith(prefix)) after[s].set(k, v);
    }
  }
  return after;
}
