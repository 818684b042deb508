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
// osync-ts keeps one extra file per side, <side>-tree-after-<ID>.meta (each path's
// listing line: type, mode, owner, group, size, mtime; see metaLine). osync never reads
// it; it is used only while it is stamped with the size and mtime of osync's own
// <side>-tree-after-<ID>, i.e. describes the same paths (plus the special files, which
// osync's lists leave out as osync.sh's own listing does). A file whose mtime falls in
// the second its run listed it (or later, until the listing ended) is marked "racily
// clean" ("R "): an edit later in that same second that keeps its size would list the
// same, so the next run compares its content (see lib/plan/plan.ts contentSuspects).
// It also keeps <side>-replica-id-<ID>: the filesystem and mount point each replica
// root was on at the last successful run (the deletion guard's "mount changed" check),
// and the root itself as configured (a path changed in the config is named as such).
import fs from 'node:fs';
import path from 'node:path';
import type { Side } from '../config/types.js';
import { isSpecialItemLine, itemLine, listedLine, parseItemLine, setListedLine, type Entry } from '../detect/parse-listing.js';
import type { BaseListing } from '../plan/plan.js';
import { latin1Bytes, writePair, writePairs, type BackgroundWrite, type StampedPair } from './background-write.js';
import { pidAlive } from './lock.js';

/** Lines that stand for themselves in the state (see lib/detect/unchanged.ts). */
export interface SameLines {
  lines: string[];
  paths: string[];
}

/** The seconds (epoch, inclusive, in the replica's own clock) in which a file listed by
 *  this run, or copied by it, could still change without its size or listed mtime
 *  changing: from the second before its listing started to the one after it ended. */
export interface RacyWindow {
  from: number;
  to: number;
  /** Files marked whatever their mtime: the base was kept for them (see keptRacy). */
  keep?: ReadonlySet<string>;
}
const NO_SAME_LINES: SameLines = { lines: [], paths: [] };

const STATE_FILES = ['tree-current', 'tree-after', 'deleted-list', 'failed-delete', 'last-action'] as const;
export type StateFile = (typeof STATE_FILES)[number];

/** What precedes "-<INSTANCE_ID>" in the names of this task's state files. */
const STATE_PREFIXES = new Set([
  ...['initiator', 'target'].flatMap((side) => [...STATE_FILES, 'replica-id'].map((what) => `${side}-${what}`)),
  'resume-count',
  'cleanup',
  'conflicts',
]);

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

  /** The first of this task's state files (a dry run's included) that is there but is
   *  not a file (a directory, a fifo...), or null: reading or replacing it would fail
   *  half-way through a run. */
  notAFile(): string | null {
    for (const prefix of STATE_PREFIXES) {
      for (const dry of ['', '-dry']) {
        for (const ext of prefix.endsWith('-tree-after') ? ['', '.meta'] : ['']) {
          const f = path.join(this.dir, `${prefix}-${this.instanceId}${dry}${ext}`);
          try {
            if (!fs.statSync(f).isFile()) return f;
          } catch {
            /* absent (or unreadable: reported where it is read) */
          }
        }
      }
    }
    return null;
  }

  /** osync's name: <side>-<what>-<ID>[-dry]. */
  name(side: Side, what: StateFile, dry = this.dry): string {
    return path.join(this.dir, `${side}-${what}-${this.instanceId}${dry ? '-dry' : ''}`);
  }

  resumeCountFile(): string {
    return path.join(this.dir, `resume-count-${this.instanceId}${this.dry ? '-dry' : ''}`);
  }

  /** osync-ts only: when the trash was last purged (its mtime). */
  cleanupStampFile(): string {
    return path.join(this.dir, `cleanup-${this.instanceId}`);
  }

  /** LOG_CONFLICTS: "<initiator>/<path> << >> <target>/<path>" lines, as osync. */
  conflictsFile(): string {
    return path.join(this.dir, `conflicts-${this.instanceId}${this.dry ? '-dry' : ''}`);
  }

  /** osync-ts only: "<filesystem> on <mount point>" of the replica root at the last successful run. */
  identityFile(side: Side): string {
    return path.join(this.dir, `${side}-replica-id-${this.instanceId}`);
  }

  /** The replica's record from the last successful run: its filesystem identity (first
   *  line, empty when unknown) and its root as configured (`root <path>`, absent in older records). */
  private readReplicaRecord(side: Side): { identity: string | null; root: string | null } {
    const t = readLatin1(this.identityFile(side));
    if (t === null) return { identity: null, root: null };
    // Stored as UTF-8 (a mount point may hold any name); state files are read as latin1.
    const lines = Buffer.from(t, 'latin1').toString('utf8').split('\n');
    const root = lines.slice(1).find((l) => l.startsWith('root '));
    return { identity: lines[0].trim() === '' ? null : lines[0], root: root ? root.slice(5) : null };
  }

  readIdentity(side: Side): string | null {
    return this.readReplicaRecord(side).identity;
  }

  /** The replica root recorded at the last successful run (null: none recorded). */
  readRecordedRoot(side: Side): string | null {
    return this.readReplicaRecord(side).root;
  }

  writeIdentity(side: Side, identity: string | null, root: string): void {
    if (this.dry) return;
    const was = this.readReplicaRecord(side);
    // An identity not found this time (no df) keeps the one recorded for the same root.
    const id = identity ?? (root === was.root ? was.identity : null);
    if (id === was.identity && root === was.root) return;
    writeAtomic(this.identityFile(side), Buffer.from(`${id ?? ''}\nroot ${root}\n`, 'utf8').toString('latin1'));
  }

  /** Temporary files left by a run of this task that was killed while writing them
   *  (writeAtomic's, stageAfter's: up to the size of the state). Only a dead run's. */
  removeLeftovers(): void {
    const id = `-${this.instanceId}`;
    for (const name of fs.readdirSync(this.dir)) {
      const m = /^(.+)\.(?:tmp|staged)-(\d+)$/.exec(name);
      if (!m || pidAlive(Number(m[2]))) continue;
      const base = m[1].replace(/\.meta$/, '');
      // (A --dry run's files end in -dry; an INSTANCE_ID may too.)
      const ours = (b: string) => b.endsWith(id) && STATE_PREFIXES.has(b.slice(0, -id.length));
      if (ours(base) || ours(base.replace(/-dry$/, ''))) fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  metaFile(side: Side, dry = this.dry): string {
    return this.name(side, 'tree-after', dry) + '.meta';
  }

  ensure(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Write a list of rendered paths, one per line (latin1: bytes as rsync gave them). */
  writeList(file: string, paths: string[], durable = false): void {
    this.writeListText(file, paths.length ? paths.join('\n') + '\n' : '', durable);
  }

  private writeListText(file: string, text: string, durable = false): void {
    // An empty list where there is one already (the usual deleted lists): nothing to write.
    if (!text && fileSize(file) === 0) return;
    writeAtomic(file, text, durable);
  }

  /** osync's current list of a replica: the paths it lists, `same` included. Made as an
   *  after list is (and remembered with it): a replica that the run leaves as it listed it
   *  has the same after list, which is then not merged and joined again. */
  writeCurrent(side: Side, listing: BaseListing, same: SameLines): void {
    this.writeListText(this.name(side, 'tree-current'), this.afterPaths(listing, same).text);
  }

  /** osync's current list of a replica that lists as its state (its digest matched): the
   *  paths of its after list, which the run that stored the digest wrote from that listing. */
  writeCurrentAsAfter(side: Side): void {
    const file = this.name(side, 'tree-current');
    const tmp = `${file}.tmp-${process.pid}`;
    fs.copyFileSync(this.name(side, 'tree-after', false), tmp);
    fs.renameSync(tmp, file);
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
    if (readLatin1(this.resumeCountFile()) === `${n}\n`) return;
    writeAtomic(this.resumeCountFile(), `${n}\n`);
  }

  /** The base for planning: the last real run's after-list, with metadata when ours is current. */
  readBase(side: Side): BaseListing | null {
    const listFile = this.name(side, 'tree-after', false);
    if (!fs.existsSync(listFile)) return null;
    const lines = this.readBaseLines(side);
    if (lines) return parseBaseLines(lines);
    const paths = this.readList(listFile) ?? [];
    return new Map(paths.map((p) => [p, null]));
  }

  /** Our metadata's lines (one per path, see metaLine), when it describes the current
   *  osync list (same size and mtime); null when there is none or osync.sh rewrote it. */
  readBaseLines(side: Side): string[] | null {
    const body = this.readMetaBody(side);
    return body === null ? null : bodyLines(body);
  }

  /** Both sides' metadata lines (one array for both when the texts are the same, as after
   *  a settled run), and the initiator's paths in the same order: osync's list that the
   *  metadata is stamped with holds exactly those. */
  readBothBaseLines(): { lines: Record<Side, string[] | null>; initiatorPaths?: string[] } {
    const bi = this.readMetaBody('initiator');
    const bt = this.readMetaBody('target');
    const initiator = bi === null ? null : bodyLines(bi);
    const target = bt === null ? null : bt === bi ? initiator : bodyLines(bt);
    const paths = initiator ? this.readList(this.name('initiator', 'tree-after', false)) : null;
    return { lines: { initiator, target }, initiatorPaths: initiator && paths && paths.length === initiator.length ? paths : undefined };
  }

  private readMetaBody(side: Side): string | null {
    let list: fs.Stats;
    let text: string;
    try {
      list = fs.statSync(this.name(side, 'tree-after', false));
      text = fs.readFileSync(this.metaFile(side, false), 'latin1');
    } catch {
      return null;
    }
    const nl = text.indexOf('\n');
    if (nl < 0 || !metaHeader(text.slice(0, nl), list)) return null;
    return text.slice(nl + 1);
  }

  /** The first line of our metadata, if it is current (see metaHeader). */
  readHeader(side: Side): MetaHeader | null {
    try {
      const list = fs.statSync(this.name(side, 'tree-after', false));
      const fd = fs.openSync(this.metaFile(side, false), 'r');
      try {
        const head = Buffer.alloc(256);
        const n = fs.readSync(fd, head, 0, head.length, 0);
        return metaHeader(head.toString('latin1', 0, n).split('\n')[0], list);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return null;
    }
  }

  /** The listing digest stored beside the base (the replica held exactly that listing), if still current. */
  readDigest(side: Side): string | undefined {
    return this.readHeader(side)?.digest;
  }


  /** Write the after-list (osync's format) and then our metadata beside it, stamped
   *  with the list's size and mtime (if osync.sh rewrites the list, they no longer
   *  match) and, when the replica holds exactly this listing, the listing's digest. */
  writeAfter(side: Side, listing: BaseListing, digest = '-', same: SameLines = NO_SAME_LINES, racy?: RacyWindow): void {
    const { text, body, racyCount } = this.afterTexts(listing, same, racy);
    const f = this.afterPair(side, latin1Bytes(text), latin1Bytes(body), `${digest} ${racyCount}`, `tmp-${process.pid}`);
    writePair(fs, f.pair);
    putInPlace(f);
  }

  /** A side's after list and metadata as a pair to write under temporary names (`<name>.<tmp>`). */
  private afterPair(side: Side, list: Uint8Array, body: Uint8Array, tail: string, tmp: string): { side: Side; list: string; meta: string; pair: StampedPair } {
    const listFile = this.name(side, 'tree-after');
    const metaFile = this.metaFile(side);
    return { side, list: listFile, meta: metaFile, pair: { listTmp: `${listFile}.${tmp}`, list, metaTmp: `${metaFile}.${tmp}`, metaHead: META_MAGIC, metaTail: tail, body } };
  }

  /** writeAfter for both sides, begun now and finished by commitStaged: the files are
   *  written under temporary names (a large state by a thread of its own, while the
   *  caller applies the run's changes) and renamed into place, initiator then target, by
   *  commitStaged, after those changes. They are the files writeAfter writes, byte for byte. */
  stageAfter(after: Record<Side, BaseListing>, digests: Record<Side, string>, same: SameLines, racy?: Record<Side, RacyWindow>): void {
    const bytes = new Map<string, Uint8Array>();
    const latin1 = (t: string) => bytes.get(t) ?? bytes.set(t, latin1Bytes(t)).get(t)!;
    const files = (['initiator', 'target'] as const).map((side) => {
      const { text, body, racyCount } = this.afterTexts(after[side], same, racy?.[side]);
      return this.afterPair(side, latin1(text), latin1(body), `${digests[side]} ${racyCount}`, `staged-${process.pid}`);
    });
    this.staged = { files, writing: writePairs(files.map((f) => f.pair)) };
  }

  /** Put the staged after state in place once written; `between` runs when the initiator's is. */
  async commitStaged(between?: () => void): Promise<void> {
    const staged = this.staged;
    if (!staged) throw new Error('No after state was staged.');
    try {
      await staged.writing.done;
      for (const f of staged.files) {
        if (f.side === 'target') between?.();
        putInPlace(f);
      }
    } finally {
      await this.discardStaged();
    }
  }

  /** Drop the staged after state (the run did not go as planned): stop its writing,
   *  remove what it wrote. Nothing staged: nothing to do. */
  async discardStaged(): Promise<void> {
    const staged = this.staged;
    if (!staged) return;
    this.staged = undefined;
    await staged.writing.stop();
    for (const f of staged.files) for (const tmp of [f.pair.listTmp, f.pair.metaTmp]) fs.rmSync(tmp, { force: true });
  }

  private staged?: { files: { side: Side; list: string; meta: string; pair: StampedPair }[]; writing: BackgroundWrite };

  /** osync's after list of a replica and our metadata body (see writeAfter), and how many
   *  of its files are marked racily clean. A line set aside as unchanged (`same`) is not
   *  looked at: it was in the last state unmarked and lists the same, so its mtime was
   *  before that run's window, hence before this one's. */
  private afterTexts(listing: BaseListing, same: SameLines, racy?: RacyWindow): { text: string; body: string; racyCount: number } {
    const { paths, text } = this.afterPaths(listing, same);
    let j = 0;
    let racyCount = 0;
    const lines = paths.map((p) => {
      if (same.paths[j] === p) return same.lines[j++];
      const e = listing.get(p) ?? null;
      const line = metaLine(p, e);
      if (!racy || e?.type !== 'f' || ((e.mtime < racy.from || e.mtime > racy.to) && !racy.keep?.has(p))) return line;
      racyCount++;
      return `${RACY}${line}`;
    });
    // The two replicas usually end a run with the same lines: joined once.
    const last = this.lastMeta;
    const body = last && last.lines.length === lines.length && last.lines.every((l, i) => l === lines[i]) ? last.body : lines.length ? lines.join('\n') + '\n' : '';
    this.lastMeta = { lines, body };
    return { text, body, racyCount };
  }

  /** The metadata lines (after the header), and their text, of the last writeAfter. */
  private lastMeta?: { lines: string[]; body: string };

  /** The paths, and osync's text of them, of the last current or after list written: a
   *  replica's current and after lists, and the two replicas' after lists, usually hold
   *  the same paths; then they are merged and joined once. */
  private lastAfter?: { keys: string[]; special: string; same: SameLines; paths: string[]; text: string };

  private afterPaths(listing: BaseListing, same: SameLines): { paths: string[]; text: string } {
    // Paths listed unchanged everywhere (lib/detect/unchanged.ts) keep their line as is;
    // they come sorted, so only the others are sorted, then the two merged.
    const keys = [...listing.keys()].sort(byBytes);
    const specialKeys = keys.filter((k) => listing.get(k)?.type === 's');
    const special = specialKeys.join('\n');
    const last = this.lastAfter;
    if (last && last.same === same && last.special === special && last.keys.length === keys.length && last.keys.every((k, i) => k === keys[i])) return last;
    const paths = mergeSorted(keys, same.paths);
    // osync.sh never lists special files: in its lists they would read as deleted on both
    // sides on its next run. They are kept in our metadata only.
    const hidden = new Set(specialKeys);
    same.lines.forEach((line, j) => {
      if (isSpecialItemLine(line)) hidden.add(same.paths[j]);
    });
    const listed = hidden.size ? paths.filter((p) => !hidden.has(p)) : paths;
    this.lastAfter = { keys, special, same, paths, text: listed.length ? listed.join('\n') + '\n' : '' };
    return this.lastAfter;
  }

  remove(file: string): void {
    fs.rmSync(file, { force: true });
  }
}

export function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The union of two lists that are each sorted by bytes, sorted (a path in both once). */
export function mergeSorted(a: string[], b: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const p = a[i];
    const q = b[j];
    if (q === undefined || (p !== undefined && p < q)) {
      out.push(p);
      i++;
    } else {
      if (p === q) i++;
      out.push(q);
      j++;
    }
  }
  return out;
}

function bodyLines(body: string): string[] {
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function fileSize(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

function readLatin1(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

// One line per path: the dry-run listing line of the entry (lib/proc/rsync.ts
// LISTING_FORMAT, read back by the same parser), as listed when it still is; "U " + such
// a line when its owner and group are unknown (just copied there: rsync maps owners by
// name); "P " + the path when nothing but the path is known; and "R " before any of
// these for a file marked racily clean (see the top of this file).
// First line: `osync-ts-tree-meta 5 <list size> <list mtimeMs> <digest or -> <racy count>`.
const META_MAGIC = 'osync-ts-tree-meta 5';
/** Version 4 (no "R " marks, no count) is still read: nothing in it is taken as racy. */
const META_MAGIC_4 = 'osync-ts-tree-meta 4';
const RACY = 'R ';

export interface MetaHeader {
  /** The listing digest (the replica held exactly that listing), if one was stored. */
  digest?: string;
  /** Files marked racily clean. */
  racy: number;
}

/** Our metadata's first line, when it is stamped for the current list `list`; else null. */
function metaHeader(line: string, list: fs.Stats): MetaHeader | null {
  for (const magic of [META_MAGIC, META_MAGIC_4]) {
    const prefix = `${magic} ${list.size} ${list.mtimeMs} `;
    if (!line.startsWith(prefix)) continue;
    const [digest, racy] = line.slice(prefix.length).split(' ');
    return { digest: /^[0-9a-f]{64}$/.test(digest) ? digest : undefined, racy: magic === META_MAGIC ? Number(racy) || 0 : 0 };
  }
  return null;
}

/** A state line without its racy mark. */
export function unmarked(line: string): string {
  return line.startsWith(RACY) ? line.slice(RACY.length) : line;
}

/** The state line of one entry (exported for the tests of lib/detect/unchanged.ts). */
export function metaLine(path: string, e: Entry | null): string {
  if (!e) return `P ${path}`;
  const listed = listedLine(e);
  if (listed !== undefined) return listed;
  return e.uid === undefined || e.gid === undefined ? `U ${itemLine(path, e)}` : itemLine(path, e);
}

function withoutOwner(e: Entry): Entry {
  const { uid: _uid, gid: _gid, ...rest } = e;
  return rest;
}

/** Lines of the state metadata → entries; the paths of those marked racily clean are
 *  added to `racy`, when given. */
export function parseBaseLines(lines: string[], racy?: Set<string>): BaseListing {
  const out: BaseListing = new Map();
  for (const marked of lines) {
    const line = unmarked(marked);
    if (line.startsWith('P ')) {
      out.set(line.slice(2), null);
      continue;
    }
    const unknownOwner = line.startsWith('U ');
    const parsed = parseItemLine(unknownOwner ? line.slice(2) : line);
    if (!parsed) continue;
    const [p, listed] = parsed;
    const e = unknownOwner ? withoutOwner(listed) : listed;
    out.set(p, e);
    if (racy && line !== marked) racy.add(p);
    // Written back as read while the entry stays as it is (marked again as its new run says).
    setListedLine(e, line);
  }
  return out;
}

/** A written after pair renamed into place. The list first: a crash between the two leaves
 *  our metadata stamped for the old list (ignored). */
function putInPlace(f: { list: string; meta: string; pair: StampedPair }): void {
  fs.renameSync(f.pair.listTmp, f.list);
  fs.renameSync(f.pair.metaTmp, f.meta);
}

/** Temp file in the same directory, then rename: readers see old or new, never half.
 *  `durable` files (the base of the next run) are also fsync'ed before the rename. */
export function writeAtomic(file: string, text: string, durable = false): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, text, null, 'latin1');
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
