// The safety checks between plan and apply (as Unison's checkForDangerousPath and
// rclone bisync's max-delete): a run whose plan looks like an accident rather than
// a user's intent is refused before anything is written. Pure: no file system, no
// processes, no clock. lib/sync.ts gathers the inputs and acts on the verdict.
//
// A run is refused (exit 3, nothing changed) when, on either replica:
//   delete-percent  the plan would delete more than MAX_DELETE_PERCENT % of its files
//   delete-count    the plan would delete more than MAX_DELETE_COUNT files (0 = no limit)
//   emptied         it held files at the last run and holds none now (an unmounted disk,
//                   or a root path changed in the config), and the plan would delete files
//                   on the other replica (not checked with MAX_DELETE_PERCENT=100)
// The percentage and emptied rules only refuse from DELETE_GUARD_MIN_FILES deleted files
// on a replica: a share of a handful of files says nothing (deleting the one file of a
// fresh setup is 100%), and osync.sh syncs those runs.
//   root-vanished   its root is gone although the last run recorded content there
//   mount-changed   its root is not on the filesystem/mount recorded at the last run
//   all-changed     every file it held at the last run has changed (at least 10 of them)
// Files and symlinks are counted, directories are not; a deleted directory counts as
// every file below it. A directory renamed on one side (deleted under its old name,
// created under a new one with the same files: relative name, size, mtime) counts as
// a move, not as deletions. --force lets a refused run through (logged as a warning).
import type { Side, SyncType } from '../config/types.js';
import type { Entry, Listing } from '../detect/parse-listing.js';
import { sameContent, someAncestor, type BaseListing, type Plan } from './plan.js';

export type GuardKind = 'delete-percent' | 'delete-count' | 'emptied' | 'root-vanished' | 'mount-changed' | 'all-changed';

export interface GuardReason {
  kind: GuardKind;
  side: Side;
  /** One line for the log, naming the numbers. */
  message: string;
  /** The replica's root path is not the one recorded at the last run (the config changed). */
  rootMoved?: boolean;
}

export interface GuardVerdict {
  /** The run may go on: no reason, or --force. */
  ok: boolean;
  /** There were reasons and --force overrode them. */
  forced: boolean;
  reasons: GuardReason[];
  /** Files (and links) each replica would lose, renamed directories not counted. */
  deletions: Record<Side, number>;
  /** Files under renamed directories, counted as moves. */
  moves: Record<Side, number>;
}

export interface GuardLimits {
  /** 0..100; a value of 100 or more never trips. */
  maxDeletePercent: number;
  /** 0 = no limit. */
  maxDeleteCount: number;
  /** The percentage and emptied rules refuse only from this many deleted files on a replica. */
  minFiles: number;
}

export interface GuardInput {
  plan: Plan;
  /** The last completed run's listings (null: none, or a one-way sync). */
  base: Record<Side, BaseListing | null>;
  now: Record<Side, Listing>;
  syncType: SyncType;
  limits: GuardLimits;
  /** Filesystem identity of each root: as recorded at the last run, and as found now (null: unknown). */
  identity?: { recorded: Record<Side, string | null>; current: Record<Side, string | null> };
  /** Where each replica is (its root, as configured): recorded at the last run (null: not
   *  recorded), and now. A change means the config now names another directory. */
  roots?: { recorded: Record<Side, string | null>; current: Record<Side, string> };
  force: boolean;
  /** Files (and links) left out of `base` and `now` because they are listed unchanged on
   *  both replicas (lib/detect/unchanged.ts): they count in every total. */
  unchangedFiles?: number;
}

/** At least this many files on a side before "every file changed" means anything. */
export const ALL_CHANGED_MIN_FILES = 10;

const SIDES: Side[] = ['initiator', 'target'];
const isFile = (e: Entry | null | undefined): boolean => !!e && e.type !== 'd';

/** Files and links in a listing (directories do not count). */
export function countFiles(listing: Map<string, Entry | null>): number {
  let n = 0;
  for (const e of listing.values()) if (isFile(e)) n++;
  return n;
}

/** The paths of files/links at or below `path` in a listing (a sorted index of its paths,
 *  made on first use, helps on big trees). */
function filesUnder(listing: Listing, index: () => string[], path: string): string[] {
  const e = listing.get(path);
  // Nothing can be listed below a file or link: no need for the index (the common case).
  if (e && e.type !== 'd') return [path];
  const out: string[] = [];
  const prefix = path + '/';
  // index is sorted by code unit: everything below `path/` is one contiguous run.
  const sorted = index();
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < prefix) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < sorted.length && sorted[i].startsWith(prefix); i++) if (isFile(listing.get(sorted[i]))) out.push(sorted[i]);
  return out;
}

const moveKey = (rel: string, e: Entry): string => `${rel}\0${e.type}\0${e.size}\0${e.mtime}\0${e.target ?? ''}`;

/** What the plan takes away from each replica: files deleted, minus those that reappear
 *  on the same replica under a directory the plan creates there (a rename). */
export function countDeletions(plan: Plan, now: Record<Side, Listing>): { deletions: Record<Side, number>; moves: Record<Side, number> } {
  const deletions: Record<Side, number> = { initiator: 0, target: 0 };
  const moves: Record<Side, number> = { initiator: 0, target: 0 };
  const index: Partial<Record<Side, string[]>> = {};
  const sorted = (s: Side) => (index[s] ??= [...now[s].keys()].sort());
  for (const side of SIDES) {
    // Directories the plan creates on this side, topmost only, with the files it brings into them.
    const created = new Set<string>();
    for (const a of plan.actions) {
      if (a.kind === 'copy' && a.to === side && !a.overwrites && now[a.from].get(a.path)?.type === 'd') created.add(a.path);
    }
    const arriving = new Map<string, number>();
    for (const dir of created) {
      if (someAncestor(dir, (d) => created.has(d))) continue;
      const from = side === 'initiator' ? 'target' : 'initiator';
      for (const p of filesUnder(now[from], () => sorted(from), dir)) {
        const k = moveKey(p.slice(dir.length + 1), now[from].get(p)!);
        arriving.set(k, (arriving.get(k) ?? 0) + 1);
      }
    }
    // Each file the plan takes away, with the action path it goes with.
    const lost: Array<[string, string]> = [];
    for (const a of plan.actions) {
      const removes =
        (a.kind === 'delete' && a.on === side) ||
        // A file or link replacing a directory takes the directory's content with it.
        (a.kind === 'copy' && a.to === side && now[side].get(a.path)?.type === 'd' && now[a.from].get(a.path)?.type !== 'd');
      if (removes) for (const p of filesUnder(now[side], () => sorted(side), a.path)) lost.push([p, a.path]);
    }
    for (const [p, root] of lost) {
      // Only files below a removed directory can be moves (a renamed directory).
      const k = p === root ? null : moveKey(p.slice(root.length + 1), now[side].get(p)!);
      const n = k === null ? 0 : arriving.get(k) ?? 0;
      if (n > 0) {
        arriving.set(k!, n - 1);
        moves[side]++;
      } else deletions[side]++;
    }
  }
  return { deletions, moves };
}

export function checkGuards(input: GuardInput): GuardVerdict {
  const { plan, base, now, limits } = input;
  const reasons: GuardReason[] = [];
  const { deletions, moves } = countDeletions(plan, now);
  const bidirectional = input.syncType === 'bidirectional';
  for (const side of SIDES) {
    const name = `${side} replica`;
    const otherSide: Side = side === 'initiator' ? 'target' : 'initiator';
    const same = input.unchangedFiles ?? 0;
    const total = countFiles(now[side]) + same;
    const del = deletions[side];
    const moved = moves[side] ? ` (${moves[side]} more in renamed directories counted as moves)` : '';
    const hadFiles = bidirectional ? (base[side] ? countFiles(base[side]!) + nullEntries(base[side]!) + same : 0) : 0;
    const recordedRoot = input.roots?.recorded[side] ?? null;
    const movedRoot = recordedRoot !== null && recordedRoot !== input.roots!.current[side] ? recordedRoot : null;

    // Only when the emptiness would be propagated: the other side would lose files, at
    // least the floor's worth. MAX_DELETE_PERCENT=100 says losing every file of a replica
    // is acceptable: not checked then.
    const emptiedChecked = limits.maxDeletePercent < 100;
    const otherLoses = deletions[otherSide];
    if (emptiedChecked && bidirectional && base[side] && hadFiles > 0 && total === 0 && otherLoses > 0 && otherLoses >= limits.minFiles) {
      reasons.push({
        kind: 'emptied',
        side,
        rootMoved: !!movedRoot,
        message: movedRoot
          ? `The ${name} [${input.roots!.current[side]}] holds no files, but this task's ${side} replica was [${movedRoot}] at the last run and held ${hadFiles} files: its path was changed in the configuration, and syncing would delete ${otherLoses} files on the ${otherSide} replica.`
          : `The ${name} holds no files but held ${hadFiles} at the last run (an unmounted or emptied replica?); its deletion would be propagated.`,
      });
    }
    if (emptiedChecked && !bidirectional) {
      const src: Side = input.syncType === 'initiator2target' ? 'initiator' : 'target';
      if (side !== src && countFiles(now[src]) === 0 && total > 0 && del >= limits.minFiles) {
        reasons.push({
          kind: 'emptied',
          side: src,
          message: `The ${src} replica (the source of ${input.syncType}) holds no files while the ${side} replica holds ${total} (an unmounted or emptied replica?); mirroring it would delete them all.`,
        });
      }
    }
    if (del > 0 && del >= limits.minFiles && limits.maxDeletePercent < 100 && del * 100 > limits.maxDeletePercent * total) {
      const pct = Math.round((del * 1000) / total) / 10;
      reasons.push({
        kind: 'delete-percent',
        side,
        message: `The plan would delete ${del} of the ${total} files on the ${name} (${pct}%), more than MAX_DELETE_PERCENT=${limits.maxDeletePercent}%${moved}.`,
      });
    }
    if (limits.maxDeleteCount > 0 && del > limits.maxDeleteCount) {
      reasons.push({
        kind: 'delete-count',
        side,
        message: `The plan would delete ${del} files on the ${name}, more than MAX_DELETE_COUNT=${limits.maxDeleteCount}${moved}.`,
      });
    }
    const changed = bidirectional && base[side] && same === 0 ? allChanged(base[side]!, now[side]) : null;
    if (changed) {
      reasons.push({
        kind: 'all-changed',
        side,
        message: `Every one of the ${changed.files} files the ${name} held at the last run has changed (${changed.modified} modified, ${changed.deleted} deleted, none unchanged): a clock jump, a restore from backup or a wrong directory?`,
      });
    }
    const id = input.identity;
    if (id && id.recorded[side] !== null && id.current[side] !== null && id.recorded[side] !== id.current[side]) {
      reasons.push({
        kind: 'mount-changed',
        side,
        rootMoved: !!movedRoot,
        message: movedRoot
          ? `The ${name} root [${input.roots!.current[side]}] is on [${id.current[side]}]; at the last run this task's ${side} replica was [${movedRoot}], on [${id.recorded[side]}]: its path was changed in the configuration.`
          : `The ${name} root is on [${id.current[side]}] but was on [${id.recorded[side]}] at the last run (a different or unmounted filesystem?).`,
      });
    }
  }
  return verdict(reasons, input.force, deletions, moves);
}

/** Paths of a base without metadata (state left by osync.sh): they may be files. */
function nullEntries(base: BaseListing): number {
  let n = 0;
  for (const e of base.values()) if (e === null) n++;
  return n;
}

function allChanged(base: BaseListing, now: Listing): { files: number; modified: number; deleted: number } | null {
  let files = 0;
  let modified = 0;
  let deleted = 0;
  for (const [p, before] of base) {
    if (!before) return null; // no metadata: nothing can be said
    if (before.type === 'd') continue;
    files++;
    const cur = now.get(p);
    if (!cur) deleted++;
    else if (sameContent(before, cur)) return null;
    else modified++;
  }
  return files >= ALL_CHANGED_MIN_FILES && modified > 0 ? { files, modified, deleted } : null;
}

/** Before anything is touched: a replica root that is gone although the last run
 *  recorded `recorded[side]` entries there (CREATE_DIRS would make an empty replica). */
export function checkVanishedRoots(
  vanished: Record<Side, boolean>,
  recorded: Record<Side, number>,
  roots: Record<Side, string>,
  force: boolean,
): GuardVerdict {
  const reasons: GuardReason[] = [];
  for (const side of SIDES) {
    if (vanished[side] && recorded[side] > 0) {
      reasons.push({
        kind: 'root-vanished',
        side,
        message: `The ${side} replica root [${roots[side]}] does not exist but held ${recorded[side]} entries at the last run (an unmounted disk?); it is not recreated empty.`,
      });
    }
  }
  return verdict(reasons, force, { initiator: 0, target: 0 }, { initiator: 0, target: 0 });
}

/** What to do about a refusal, for the run's last CRITICAL line. */
export function refusalAdvice(reasons: GuardReason[]): string {
  const has = (...kinds: GuardKind[]) => reasons.some((r) => kinds.includes(r.kind) && !r.rootMoved);
  const out: string[] = [];
  if (reasons.some((r) => r.rootMoved)) {
    out.push(
      "if the new path is meant to receive this task's files, run it under a new INSTANCE_ID (this task's state describes the old path), so both replicas are merged as new",
    );
  }
  if (has('emptied', 'root-vanished', 'mount-changed')) out.push('check that both replicas are mounted and hold your files');
  if (has('all-changed')) out.push("check the clock and where the replica's files came from");
  if (has('delete-percent', 'delete-count')) out.push('see what it would delete with --dry; if that is intended, run once with --force, or raise MAX_DELETE_PERCENT, MAX_DELETE_COUNT or DELETE_GUARD_MIN_FILES for this task');
  else out.push('once you are sure, run once with --force to let this run through');
  return out.join('; ') + '.';
}

/** Causes before their consequences: an emptied replica before the deletions it implies. */
const ORDER: GuardKind[] = ['root-vanished', 'emptied', 'mount-changed', 'all-changed', 'delete-percent', 'delete-count'];

function verdict(reasons: GuardReason[], force: boolean, deletions: Record<Side, number>, moves: Record<Side, number>): GuardVerdict {
  reasons.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  return { ok: reasons.length === 0 || force, forced: reasons.length > 0 && force, reasons, deletions, moves };
}
