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
  now: Record<Side, string[]>;
  base: Record<Side, string[]>;
  /** The path of each line of base.initiator, in order, when known (osync's tree-after
   *  list beside the state is exactly that); otherwise read from the lines. */
  basePaths?: string[];
}

export interface Split {
  /** The lines listed identically everywhere, and the path each names, by path. */
  same: { lines: string[]; paths: string[]; files: number };
  /** Every other line, to be parsed and planned. */
  rest: LineSets;
}

// Bits of `seen`: the initiator's state line is also in this list.
const IN_NOW_INITIATOR = 1;
const IN_NOW_TARGET = 2;
const IN_BASE_TARGET = 4;
const EVERYWHERE = 7;

/** Each line of the initiator's state → its index (for splitUnchanged; it can be built
 *  while a listing still runs). */
export function indexLines(lines: string[]): Map<string, number> {
  const at = new Map<string, number>();
  for (let k = 0; k < lines.length; k++) at.set(lines[k], k);
  return at;
}

export function splitUnchanged(input: LineSets, at = indexLines(input.base.initiator)): Split {
  // Every line of the initiator's state, by content; each other list's lines looked up
  // in it. No line is parsed or even cut to its path on the way: a line names its path.
  const { now, base } = input;
  const bi = base.initiator;
  const seen = new Uint8Array(bi.length);
  const inNowI = lookUp(at, now.initiator, seen, IN_NOW_INITIATOR);
  const inNowT = lookUp(at, now.target, seen, IN_NOW_TARGET);
  // Both states are usually the same text, then one array (StateDir.readBothBaseLines).
  const inBaseT = base.target === bi ? null : lookUp(at, base.target, seen, IN_BASE_TARGET);
  if (!inBaseT) for (let k = 0; k < seen.length; k++) seen[k] |= IN_BASE_TARGET;

  const known = input.basePaths?.length === bi.length ? input.basePaths : null;
  const lines: string[] = [];
  const paths: string[] = [];
  const restBaseI: string[] = [];
  let files = 0;
  let sorted = true;
  for (let k = 0; k < bi.length; k++) {
    const line = bi[k];
    const p = seen[k] === EVERYWHERE ? (known ? known[k] : statePath(line)) : null;
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
  return {
    same,
    rest: {
      now: { initiator: rest(now.initiator, inNowI), target: rest(now.target, inNowT) },
      // One state read for both sides: one rest for both (read, never changed).
      base: { initiator: restBaseI, target: inBaseT ? rest(base.target, inBaseT) : restBaseI },
    },
  };
}

/** For each line of `list`, the index of the same line in the initiator's state (-1: none),
 *  marking that state line as found in `list`. */
function lookUp(at: Map<string, number>, list: string[], seen: Uint8Array, bit: number): Int32Array {
  const idx = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const k = at.get(list[i]);
    if (k === undefined) idx[i] = -1;
    else {
      idx[i] = k;
      seen[k] |= bit;
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
function statePath(line: string): string | null {
  if (line.startsWith('P ')) return line.slice(2);
  return itemLinePath(line.startsWith('U ') ? line.slice(2) : line);
}
