// The state osync keeps in the initiator's state dir, with osync's names and formats,
// so that osync.sh and osync-ts can take turns on the same replicas.
//
// Crash rule: every file is written to a temporary name in the same directory and
// renamed over the old one, so a reader sees either the old or the new content,
// never half a file. The after-lists (the base of the next run) are written last,
// after every change to the replicas, and only describe what is known to be done;
// a run killed at any line before that leaves the old base, against which the next
// run re-detects (and converges on) whatever was left half done.
//
// osync-ts keeps one extra file per side, <side>-tree-after-<ID>.meta (type, size,
// mtime and mode of each path). osync never reads it; it is used only when it is at
// least as new as osync's own <side>-tree-after-<ID> and names the same paths.
import fs from 'node:fs';
import path from 'node:path';
import type { Side } from '../config/types.js';
import type { Entry } from '../detect/parse-listing.js';
import type { BaseListing } from '../plan/plan.js';

export type StateFile =
  | 'tree-current'
  | 'tree-after'
  | 'deleted-list'
  | 'failed-delete'
  | 'last-action';

export const STEPS = [
  'replica-tree',
  'deleted-list',
  'timestampList-list',
  'conflict-list',
  'sync_attrs',
  'update-replica',
  'delete-propagation',
  'replica-tree-after',
  'timestampList-after',
  'synced',
] as const;
export type Step = (typeof STEPS)[number];

export class StateDir {
  constructor(
    readonly dir: string,
    readonly instanceId: string,
    readonly dry: boolean,
  ) {}

  /** osync's name: <side>-<what>-<ID>[-dry]. */
  name(side: Side, what: StateFile, dry = this.dry): string {
    return path.join(this.dir, `${side}-${what}-${this.instanceId}${dry ? '-dry' : ''}`);
  }

  resumeCountFile(): string {
    return path.join(this.dir, `resume-count-${this.instanceId}${this.dry ? '-dry' : ''}`);
  }

  /** LOG_CONFLICTS: "<initiator>/<path> << >> <target>/<path>" lines, as osync. */
  conflictsFile(): string {
    return path.join(this.dir, `conflicts-${this.instanceId}${this.dry ? '-dry' : ''}`);
  }

  metaFile(side: Side, dry = this.dry): string {
    return this.name(side, 'tree-after', dry) + '.meta';
  }

  ensure(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Write a list of rendered paths, one per line (latin1: bytes as rsync gave them). */
  writeList(file: string, paths: Iterable<string>): void {
    let text = '';
    for (const p of paths) text += p + '\n';
    writeAtomic(file, text);
  }

  readList(file: string): string[] | null {
    const text = readLatin1(file);
    if (text === null) return null;
    return text.split('\n').filter((l) => l !== '');
  }

  readMarker(side: Side): string | null {
    const t = readLatin1(this.name(side, 'last-action'));
    return t === null ? null : t.trim();
  }

  writeMarker(side: Side, step: Step): void {
    writeAtomic(this.name(side, 'last-action'), step + '\n');
  }

  markerTime(side: Side): Date | null {
    try {
      return fs.statSync(this.name(side, 'last-action')).mtime;
    } catch {
      return null;
    }
  }

  readResumeCount(): number {
    const t = readLatin1(this.resumeCountFile());
    const n = t === null ? 0 : parseInt(t.trim(), 10);
    return Number.isFinite(n) ? n : 0;
  }

  writeResumeCount(n: number): void {
    writeAtomic(this.resumeCountFile(), `${n}\n`);
  }

  /** The base for planning: the last real run's after-list, with metadata when ours is current. */
  readBase(side: Side): BaseListing | null {
    const listFile = this.name(side, 'tree-after', false);
    const paths = this.readList(listFile);
    if (paths === null) return null;
    const base: BaseListing = new Map(paths.map((p) => [p, null]));
    const meta = readMeta(this.metaFile(side, false), listFile);
    if (meta && meta.size === base.size && [...meta.keys()].every((k) => base.has(k))) return meta;
    return base;
  }

  /** Write the after-list (osync's format) and then our metadata beside it. */
  writeAfter(side: Side, listing: BaseListing): void {
    const sorted = [...listing.keys()].sort(byBytes);
    this.writeList(this.name(side, 'tree-after'), sorted);
    const lines = [JSON.stringify({ format: 'osync-ts-tree-meta', version: 1 })];
    for (const p of sorted) {
      const e = listing.get(p);
      lines.push(JSON.stringify(e ? [p, e.type, e.size, e.mtime, e.mode, e.target ?? null] : [p]));
    }
    writeAtomic(this.metaFile(side), lines.join('\n') + '\n');
  }

  remove(file: string): void {
    fs.rmSync(file, { force: true });
  }
}

export function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function readLatin1(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function readMeta(metaFile: string, listFile: string): BaseListing | null {
  try {
    // Older than osync's list: osync.sh ran since, so our metadata describes another base.
    if (fs.statSync(metaFile).mtimeMs < fs.statSync(listFile).mtimeMs) return null;
    const text = fs.readFileSync(metaFile, 'latin1');
    const lines = text.split('\n');
    const head = JSON.parse(lines[0]);
    if (head.format !== 'osync-ts-tree-meta' || head.version !== 1) return null;
    const out: BaseListing = new Map();
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i]) continue;
      const [p, type, size, mtime, mode, target] = JSON.parse(lines[i]);
      const e: Entry | null = type ? { type, size, mtime, mode, ...(target !== null ? { target } : {}) } : null;
      out.set(p, e);
    }
    return out;
  } catch {
    return null;
  }
}

/** Temp file in the same directory, fsync, rename: readers see old or new, never half. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, Buffer.from(text, 'latin1'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
