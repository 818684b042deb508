// List a replica with rsync (a dry run into an empty directory, see listingArgv). A digest of
// it (with the exact rsync argv) is kept: when a replica's listing is byte-identical to
// the one the last run left it with, nothing on it has changed and it is not parsed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { Runner } from '../proc/run.js';
import { listingArgv, rsyncMeaning } from '../proc/rsync.js';
import { makeTempDir } from '../tmp.js';
import type { Replica } from '../replica.js';

export interface ListResult {
  /** The listing as rsync wrote it (latin1 bytes), read when needed (it changed; an
   *  unchanged listing is removed at once and cannot be read). */
  read(): Buffer;
  /** Remove the listing's temporary files (read() is no longer possible). */
  done(): void;
  /** The listing's digest equals `knownDigest`: the replica lists as the last run left it. */
  unchanged: boolean;
  digest: string;
  exitCode: number;
  stderr: string;
}

function startDigest(argv: string[]) {
  return createHash('sha256').update(argv.join('\0') + '\n', 'latin1');
}

/** Chunk for digesting a listing: reused, so a run with nothing to do never holds the
 *  listing in memory (half the time of reading it whole, then digesting it). */
const chunk = Buffer.allocUnsafeSlow(1 << 18);

/** Count the lines of a file that another process is writing, every `ms` (a terminal's
 *  progress: how many entries a listing holds so far). */
function countLinesWhileWritten(file: string, onCount: (lines: number) => void, ms = 250): { stop(): void } {
  const buf = Buffer.allocUnsafe(1 << 16);
  let fd: number | null = null;
  let at = 0;
  let lines = 0;
  const count = () => {
    try {
      fd ??= fs.openSync(file, 'r');
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, at)) > 0; at += n) {
        for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) lines++;
      }
      onCount(lines);
    } catch {
      /* not there yet, or removed: the next tick or the end tells */
    }
  };
  const timer = setInterval(count, ms);
  return {
    stop() {
      clearInterval(timer);
      count();
      if (fd !== null) fs.closeSync(fd);
    },
  };
}

export async function listReplica(runner: Runner, config: Config, r: Replica, knownDigest?: string, onListed?: (entries: number) => void): Promise<ListResult> {
  // rsync writes the listing a line per write(2): into a file that is nearly free,
  // through a pipe into Node it costs more than the listing. So: file, then one pass.
  const dir = makeTempDir('list');
  const file = path.join(dir, r.side);
  const empty = path.join(dir, 'empty');
  let removed = false;
  const done = () => {
    if (removed) return;
    removed = true;
    try {
      fs.rmSync(file, { force: true });
      fs.rmdirSync(empty);
      fs.rmdirSync(dir);
    } catch {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    fs.mkdirSync(empty);
    // rsync itemises the root against this directory: with a fixed mtime its line (and so
    // the digest) cannot change with the second the directory happened to be made in.
    fs.utimesSync(empty, 0, 0);
    const argv = listingArgv(config, r, empty);
    const running = runner.run(argv, { viaSsh: !!r.remote, stdoutFile: file });
    const counting = onListed && countLinesWhileWritten(file, onListed);
    const res = await running.finally(() => counting?.stop());
    // The temporary empty directory (last word) differs every run: not part of the digest.
    const hash = startDigest(argv.slice(0, -1));
    const fd = fs.openSync(file, 'r');
    try {
      for (let at = 0, n = 0; (n = fs.readSync(fd, chunk, 0, chunk.length, at)) > 0; at += n) hash.update(chunk.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    const digest = hash.digest('hex');
    const unchanged = digest === knownDigest;
    // Listed completely as the last run left it: its state's lines stand for it, the file is
    // not read again. Removed now, while the other replica may still be listed.
    if (unchanged && res.exitCode === 0) done();
    const read = () => {
      if (removed) throw new Error(`The ${r.side} replica's listing was read after its removal.`);
      return fs.readFileSync(file);
    };
    return { read, done, unchanged, digest, exitCode: res.exitCode, stderr: res.stderr };
  } catch (e) {
    done();
    throw e;
  }
}

export class ListingError extends Error {
  constructor(r: Replica, code: number, stderr: string) {
    super(`Cannot create ${r.side} replica file list in [${r.root}/]: rsync exit ${code} (${rsyncMeaning(code)}). ${firstLine(stderr)}`.trim());
  }
}

export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '';
}

// rsync's messages for what it could not list (flist.c): a directory it could not enter,
// open or read, an entry it could not stat, a symlink to follow that leads nowhere. Each
// names the full path as rsync renders names (quoted; the listing's escapes).
const UNLISTED = [
  /(?:opendir|link_stat|change_dir) "(.*)" failed: (.*)$/,
  /(?:readlink_stat|readdir)\("(.*)"\)(?: failed)?: (.*)$/,
  /(symlink has no referent): "(.*)"$/,
];
/** Lines that say nothing about a path: rsync's closing summary, vanished files (exit 24). */
const CHATTER = /^(rsync error: some files\/attrs were not transferred|rsync warning: some files vanished|file has vanished: )/;

export interface Unlisted {
  /** Rendered paths relative to the root ('' = the root itself) → why, as rsync says it. */
  paths: Map<string, string>;
  /** Error lines that name no path below the root. */
  unknown: string[];
}

/** What a listing that ended with rsync's exit 23 could not list, from its stderr. `root`
 *  as the replica names it (absolute, or relative to the remote home). Pure. */
export function unlistedPaths(stderr: string, root: string): Unlisted {
  // rsync names a path from its own cleaned form of the root (no `//`, `.`, `..`).
  const clean = path.posix.normalize(root).replace(/(.)\/$/, '$1');
  const relative = (full: string): string | null => {
    if (clean.startsWith('/')) {
      if (full === clean || full === `${clean}/.`) return '';
      const prefix = clean === '/' ? '/' : `${clean}/`;
      return full.startsWith(prefix) ? full.slice(prefix.length) : null;
    }
    // A root relative to the remote home: the home is not known here.
    if (full.endsWith(`/${clean}`) || full.endsWith(`/${clean}/.`)) return '';
    const at = full.indexOf(`/${clean}/`);
    return at < 0 ? null : full.slice(at + clean.length + 2);
  };
  const out: Unlisted = { paths: new Map(), unknown: [] };
  for (const line of stderr.split('\n')) {
    if (!line.trim() || CHATTER.test(line)) continue;
    const m = UNLISTED.map((re) => re.exec(line)).find((x) => x);
    // The symlink message puts the reason first.
    const [full, why] = m ? (m[1] === 'symlink has no referent' ? [m[2], m[1]] : [m[1], m[2]]) : [null, ''];
    const rel = full === null ? null : relative(full);
    if (rel === null) out.unknown.push(line);
    else if (!out.paths.has(rel)) out.paths.set(rel, why.trim());
  }
  return out;
}
