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
}

export interface Split {
  /** The lines listed identically everywhere, and the path each names. */
  same: { lines: string[]; paths: string[]; files: number };
  /** Every other line, to be parsed and planned. */
  rest: LineSets;
}

export function splitUnchanged(input: LineSets): Split {
  // Each list ordered by path (rsync lists in nearly that order, the state is written in
  // it), then one merge of the four: no hashing of 400k lines.
  const lists = [
    byPath(input.now.initiator, itemLinePath),
    byPath(input.now.target, itemLinePath),
    byPath(input.base.initiator, statePath),
    byPath(input.base.target, statePath),
  ];
  const rest: string[][] = lists.map((l) => l.unnamed);
  const lines: string[] = [];
  const paths: string[] = [];
  let files = 0;
  const [a, b, c, d] = lists;
  let i = 0;
  let j = 0;
  let k = 0;
  let m = 0;
  for (;;) {
    const p = a.paths[i];
    // The usual step: the same path at the head of all four lists, the same line.
    if (p !== undefined && b.paths[j] === p && c.paths[k] === p && d.paths[m] === p) {
      const line = a.lines[i];
      if (b.lines[j] === line && c.lines[k] === line && d.lines[m] === line) {
        lines.push(line);
        paths.push(p);
        if (line[1] !== 'd') files++;
      } else {
        rest[0].push(line);
        rest[1].push(b.lines[j]);
        rest[2].push(c.lines[k]);
        rest[3].push(d.lines[m]);
      }
      i++;
      j++;
      k++;
      m++;
      continue;
    }
    // Otherwise the smallest path present, taken from the lists that have it.
    let min: string | undefined;
    for (const q of [p, b.paths[j], c.paths[k], d.paths[m]]) if (q !== undefined && (min === undefined || q < min)) min = q;
    if (min === undefined) break;
    if (p === min) rest[0].push(a.lines[i++]);
    if (b.paths[j] === min) rest[1].push(b.lines[j++]);
    if (c.paths[k] === min) rest[2].push(c.lines[k++]);
    if (d.paths[m] === min) rest[3].push(d.lines[m++]);
  }
  return {
    same: { lines, paths, files },
    rest: { now: { initiator: rest[0], target: rest[1] }, base: { initiator: rest[2], target: rest[3] } },
  };
}

interface Ordered {
  /** Lines that name an entry, and their paths, sorted by path. */
  lines: string[];
  paths: string[];
  /** Lines that name none (the root, chatter): for the parser, as they are. */
  unnamed: string[];
}

/** Lines with their paths, ordered by path. */
function byPath(all: string[], pathOf: (line: string) => string | null): Ordered {
  const names = all.map(pathOf);
  const unnamed: string[] = [];
  const idx: number[] = [];
  let sorted = true;
  let last: string | null = null;
  for (let n = 0; n < all.length; n++) {
    const p = names[n];
    if (p === null) {
      unnamed.push(all[n]);
      continue;
    }
    if (last !== null && p < last) sorted = false;
    last = p;
    idx.push(n);
  }
  if (!sorted) idx.sort((x, y) => (names[x]! < names[y]! ? -1 : names[x]! > names[y]! ? 1 : 0));
  return { lines: idx.map((n) => all[n]), paths: idx.map((n) => names[n]!), unnamed };
}

/** The path of a state line (lib/state/files.ts metaLine). */
function statePath(line: string): string | null {
  if (line.startsWith('P ')) return line.slice(2);
  return itemLinePath(line.startsWith('U ') ? line.slice(2) : line);
}
