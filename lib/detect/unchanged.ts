// Paths that need no planning at all, found without parsing them. Pure.
//
// The state keeps each entry as the listing line it was read from (lib/state/files.ts),
// and a line holds the path and everything compared about it (type, mode, owner, group,
// size, mtime, link target). So a line that is, byte for byte, in both replicas'
// listings now AND in both replicas' state from the last run names a path that is
// unchanged on each side and equal on both: the planner would do nothing for it, and
// its state line is written back as it is. On a large replica with a few changes, that
// is nearly every line; only the others are parsed and planned.
import type { Side } from '../config/types.js';
import { itemLinePath } from './parse-listing.js';

export interface LineSets {
  /** Each replica's listing lines; null for a replica whose listing is byte for byte the
   *  one its state was written from (the run stored its digest): then its listed
   *  lines are its state's lines, and its listing need not even be read. */
  now: Record<Side, string[] | null>;
  base: Record<Side, string[]>;
  /** The path of each line of base.initiator, in order, when known (osync's tree-after
   *  list beside the state is exactly that); otherwise read from the lines. */
  basePaths?: string[];
}

export interface Split {
  /** The lines listed identically everywhere, and the path each names, by path. */
  same: { lines: string[]; paths: string[]; files: number };
  /** Every other line, to be parsed and planned. A replica's rest listing that is its rest
   *  state's array itself (the replica lists as its state) holds the same entries. */
  rest: { now: Record<Side, string[]>; base: Record<Side, string[]> };
}

// Bits of `seen`: the initiator's state line is also in this list.
const IN_NOW_INITIATOR = 1;
const IN_NOW_TARGET = 2;
const IN_BASE_TARGET = 4;
const EVERYWHERE = 7;

export function splitUnchanged(input: LineSets): Split {
  // Each other list's lines are looked up in the initiator's state. No line is parsed on
  // the way (a line names its path); only a line out of step with the state is cut to
  // its path, to find it there (see locator).
  const { now, base } = input;
  const bi = base.initiator;
  const known = input.basePaths?.length === bi.length ? input.basePaths : null;
  const locate = locator(bi, known);
  const seen = new Uint8Array(bi.length);
  const inNowI = now.initiator ? lookUp(locate, now.initiator, seen, IN_NOW_INITIATOR) : null;
  const inNowT = now.target ? lookUp(locate, now.target, seen, IN_NOW_TARGET) : null;
  // Both states are usually the same text, then one array (StateDir.readBothBaseLines).
  const inBaseT = base.target === bi ? null : lookUp(locate, base.target, seen, IN_BASE_TARGET);
  // A replica listed as its state lists every listing line of its state; of the initiator's
  // state lines, those are the ones also in that replica's state (IN_BASE_TARGET for the
  // target: ANDed by EVERYWHERE). A "U "/"P " line is in no listing, so never set aside.
  const everyLine = (inBaseT ? 0 : IN_BASE_TARGET) | (now.initiator ? 0 : IN_NOW_INITIATOR) | (now.target ? 0 : IN_NOW_TARGET);
  if (everyLine) for (let k = 0; k < seen.length; k++) seen[k] |= everyLine;

  const lines: string[] = [];
  const paths: string[] = [];
  const restBaseI: string[] = [];
  let files = 0;
  let sorted = true;
  for (let k = 0; k < bi.length; k++) {
    const line = bi[k];
    // (A replica listed as its state "lists" even a marked line: never set aside.)
    const p = seen[k] === EVERYWHERE && !isMarked(line) ? (known ? known[k] : statePath(line)) : null;
    if (p === null || p === '') {
      seen[k] = 0;
      restBaseI.push(line);
      continue;
    }
    if (sorted && paths.length && p < paths[paths.length - 1]) sorted = false;
    lines.push(line);
    paths.push(p);
    if (line[1] !== 'd') files++;
  }
  const rest = (list: string[], idx: Int32Array) => list.filter((_, i) => idx[i] < 0 || seen[idx[i]] !== EVERYWHERE);
  const same = sorted ? { lines, paths, files } : byPath(lines, paths, files);
  // One state read for both sides: one rest for both (read, never changed).
  const restBaseT = inBaseT ? rest(base.target, inBaseT) : restBaseI;
  // A replica listed as its state: the rest of its state, less what no listing holds (the
  // same array when that is nothing: then its entries are parsed once, see Split).
  const restNow = (list: string[] | null, idx: Int32Array | null, asBase: string[]) =>
    list && idx ? rest(list, idx) : asBase.every(isListingLine) ? asBase : asBase.filter(isListingLine).map(listedAs);
  return {
    same,
    rest: {
      now: { initiator: restNow(now.initiator, inNowI, restBaseI), target: restNow(now.target, inNowT, restBaseT) },
      base: { initiator: restBaseI, target: restBaseT },
    },
  };
}

/** A state line that is a listing line as listed (not "U …" or "P …", see metaLine),
 *  but for a racy mark ("R "). */
function isListingLine(line: string): boolean {
  const l = listedAs(line);
  return !(l[1] === ' ' && (l[0] === 'P' || l[0] === 'U'));
}

/** The listing line a state line is, without its racy mark (a marked line never equals a
 *  listing line, so it is never set aside as unchanged: its content is compared). */
function listedAs(line: string): string {
  return isMarked(line) ? line.slice(2) : line;
}

function isMarked(line: string): boolean {
  return line.charCodeAt(0) === 82 && line.charCodeAt(1) === 32; // "R "
}

/** Where a line is in the initiator's state: its index there, or -1. `next` is where the
 *  line after the last one found is: a list in the state's order is found line by line. */
type Locate = (line: string, next: number) => number;

function locator(bi: string[], paths: string[] | null): Locate {
  if (!paths) {
    const at = new Map<string, number>();
    for (let k = 0; k < bi.length; k++) at.set(bi[k], k);
    return (line) => at.get(line) ?? -1;
  }
  // The state is in path order (osync's tree list beside it is), a listing in rsync's
  // (a directory's files, then its subdirectories): in step but for a jump or two per
  // directory, and a few lines skipped where paths are gone. A line further out of step is
  // found by its path; if the paths were not in order it may not be, and then only goes
  // to the planner with its path's other lines.
  return (line, next) => {
    // A few lines ahead: lines gone from the list since the state was written.
    for (let k = next; k < next + 4; k++) if (bi[k] === line) return k;
    const p = statePath(line);
    if (p === null) return -1;
    let lo = 0;
    let hi = paths.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (paths[mid] < p) lo = mid + 1;
      else if (paths[mid] > p) hi = mid - 1;
      else return bi[mid] === line ? mid : -1;
    }
    return -1;
  };
}

/** For each line of `list`, the index of the same line in the initiator's state (-1: none),
 *  marking that state line as found in `list`. */
function lookUp(locate: Locate, list: string[], seen: Uint8Array, bit: number): Int32Array {
  const idx = new Int32Array(list.length);
  let next = 0;
  for (let i = 0; i < list.length; i++) {
    const k = locate(list[i], next);
    idx[i] = k;
    if (k >= 0) {
      seen[k] |= bit;
      next = k + 1;
    }
  }
  return idx;
}

/** Lines and their paths, ordered by path (a state written by hand or by an older build). */
function byPath(lines: string[], paths: string[], files: number): Split['same'] {
  const idx = paths.map((_, i) => i).sort((x, y) => (paths[x] < paths[y] ? -1 : paths[x] > paths[y] ? 1 : 0));
  return { lines: idx.map((i) => lines[i]), paths: idx.map((i) => paths[i]), files };
}

/** The path of a state line (lib/state/files.ts metaLine). */
function statePath(marked: string): string | null {
  const line = listedAs(marked);
  if (line.startsWith('P ')) return line.slice(2);
  return itemLinePath(line.startsWith('U ') ? line.slice(2) : line);
}
