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
  const lists = [input.now.initiator, input.now.target, input.base.initiator, input.base.target];
  const keyed = lists.map((lines, k) => byPath(lines, k < 2 ? itemLinePath : statePath));
  const rest: string[][] = [[], [], [], []];
  const lines: string[] = [];
  const paths: string[] = [];
  let files = 0;
  const at = [0, 0, 0, 0];
  const head = (k: number): string | undefined => {
    const i = keyed[k].order[at[k]];
    return i === undefined ? undefined : keyed[k].paths[i]!;
  };
  for (let k = 0; k < 4; k++) for (const i of keyed[k].unnamed) rest[k].push(lists[k][i]);
  for (;;) {
    const p0 = head(0);
    // The usual step: the same path at the head of all four lists.
    if (p0 !== undefined && head(1) === p0 && head(2) === p0 && head(3) === p0) {
      const line = lists[0][keyed[0].order[at[0]]];
      const taken = [1, 2, 3].map((k) => lists[k][keyed[k].order[at[k]]]);
      for (let k = 0; k < 4; k++) at[k]++;
      if (taken[0] === line && taken[1] === line && taken[2] === line) {
        lines.push(line);
        paths.push(p0);
        if (line[1] !== 'd') files++;
      } else {
        rest[0].push(line);
        for (let k = 1; k < 4; k++) rest[k].push(taken[k - 1]);
      }
      continue;
    }
    // Otherwise the smallest path present, taken from the lists that have it.
    let min: string | undefined;
    for (let k = 0; k < 4; k++) {
      const p = head(k);
      if (p !== undefined && (min === undefined || p < min)) min = p;
    }
    if (min === undefined) break;
    for (let k = 0; k < 4; k++) {
      if (head(k) !== min) continue;
      rest[k].push(lists[k][keyed[k].order[at[k]]]);
      at[k]++;
    }
  }
  return {
    same: { lines, paths, files },
    rest: { now: { initiator: rest[0], target: rest[1] }, base: { initiator: rest[2], target: rest[3] } },
  };
}

/** The path each line names (null: not an entry), and the line indices sorted by path. */
function byPath(lines: string[], pathOf: (line: string) => string | null): { paths: Array<string | null>; order: number[]; unnamed: number[] } {
  const paths = lines.map(pathOf);
  const order: number[] = [];
  const unnamed: number[] = [];
  let sorted = true;
  let last: string | null = null;
  paths.forEach((p, i) => {
    if (p === null) return unnamed.push(i);
    if (last !== null && p < last) sorted = false;
    last = p;
    order.push(i);
  });
  if (!sorted) order.sort((a, b) => (paths[a]! < paths[b]! ? -1 : paths[a]! > paths[b]! ? 1 : 0));
  return { paths, order, unnamed };
}

/** The path of a state line (lib/state/files.ts metaLine). */
function statePath(line: string): string | null {
  if (line.startsWith('P ')) return line.slice(2);
  return itemLinePath(line.startsWith('U ') ? line.slice(2) : line);
}
