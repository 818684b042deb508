// Build and read directory trees for end-to-end tests.
//
//   writeTree(dir, { 'a/b.txt': 'x', 'd/': null, 'l': { symlink: 'a/b.txt' },
//                    'x.sh': { content: '#!/bin/sh\n', mode: 0o755, mtime: 1_700_000_000 } },
//             { mtime: 1_700_000_000 });
//   readTree(dir)  // { 'a': '<dir>', 'a/b.txt': 'x', 'd': '<dir>', 'l': '-> a/b.txt', 'x.sh': '#!/bin/sh\n' }
//
// Names that are not valid UTF-8 are written from Buffers (`writeTree(dir, [[Buffer, value]])`)
// and read back with each byte that is not part of valid UTF-8 shown as `\xNN` (see nameKey()).
import { after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type FileSpec =
  | string // file content
  | Buffer // file content (bytes)
  | null // a directory
  | { symlink: string | Buffer }
  | { content: string | Buffer; mode?: number; mtime?: number | Date }
  | { dir: true; mode?: number; mtime?: number | Date };

export type TreeSpec = Record<string, FileSpec> | Array<[string | Buffer, FileSpec]>;

export interface WriteOptions {
  /** mtime (epoch seconds or Date) for every file and directory written, unless the entry sets its own. */
  mtime?: number | Date;
}

const WORKDIR = '.osync_workdir';

/** A fresh temp directory (removed by cleanupTmp / the returned remover). */
export function tmpDir(prefix = 'osync-ts-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const scratch: string[] = [];

/** A fresh temp directory that is removed when the test file's process exits (a test
 *  need not clean up after itself, nor leave its trees in /tmp when it fails). */
export function scratchDir(prefix: string): string {
  if (!scratch.length) process.once('exit', () => scratch.forEach(rmTree));
  const dir = tmpDir(prefix);
  scratch.push(dir);
  return dir;
}

export function rmTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

function joinBytes(dir: string, name: string | Buffer): Buffer {
  const n = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  return Buffer.concat([Buffer.from(dir.replace(/\/+$/, '') + '/', 'utf8'), n]);
}

/** Parent directory of a Buffer path (bytes before the last '/'). */
function parentOf(p: Buffer): Buffer {
  const i = p.lastIndexOf(0x2f);
  return i <= 0 ? Buffer.from('/') : p.subarray(0, i);
}

function mkdirp(p: Buffer): void {
  fs.mkdirSync(p as unknown as string, { recursive: true });
}

function toTime(t: number | Date): number | Date {
  return t;
}

/** Write files, directories and symlinks below `dir` (created if needed). A key ending in '/' is a directory. */
export function writeTree(dir: string, spec: TreeSpec, opts: WriteOptions = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const entries: Array<[string | Buffer, FileSpec]> = Array.isArray(spec) ? spec : Object.entries(spec);
  const dirTimes: Array<[Buffer, number | Date]> = [];
  for (const [rawName, value] of entries) {
    let name = rawName;
    let isDirKey = false;
    if (typeof name === 'string' && name.endsWith('/')) {
      name = name.replace(/\/+$/, '');
      isDirKey = true;
    }
    const full = joinBytes(dir, name);
    const fp = full as unknown as string;
    mkdirp(parentOf(full));
    if (value === null || isDirKey || (typeof value === 'object' && !Buffer.isBuffer(value) && 'dir' in value)) {
      mkdirp(full);
      const v = value && typeof value === 'object' && !Buffer.isBuffer(value) && 'dir' in value ? value : null;
      if (v?.mode !== undefined) fs.chmodSync(fp, v.mode);
      const t = v?.mtime ?? opts.mtime;
      if (t !== undefined) dirTimes.push([full, t]);
      continue;
    }
    if (typeof value === 'object' && !Buffer.isBuffer(value) && 'symlink' in value) {
      fs.rmSync(fp, { force: true });
      fs.symlinkSync(value.symlink as unknown as string, fp);
      continue;
    }
    let content: string | Buffer;
    let mode: number | undefined;
    let mtime = opts.mtime;
    if (typeof value === 'string' || Buffer.isBuffer(value)) content = value;
    else {
      content = (value as { content: string | Buffer }).content;
      mode = (value as { mode?: number }).mode;
      mtime = (value as { mtime?: number | Date }).mtime ?? mtime;
    }
    fs.writeFileSync(fp, content);
    if (mode !== undefined) fs.chmodSync(fp, mode);
    if (mtime !== undefined) fs.utimesSync(fp, toTime(mtime), toTime(mtime));
  }
  // Directory mtimes last (writing files inside changes them), deepest first.
  dirTimes.sort((a, b) => b[0].length - a[0].length);
  for (const [p, t] of dirTimes) fs.utimesSync(p as unknown as string, t, t);
}

/** A file name as readTree() shows it: UTF-8 text, bytes outside valid UTF-8 as \xNN. */
export function nameKey(name: Buffer): string {
  const s = name.toString('utf8');
  if (Buffer.from(s, 'utf8').equals(name)) return s;
  // Decode piecewise: valid UTF-8 sequences stay text, others become \xNN.
  let out = '';
  let i = 0;
  while (i < name.length) {
    const b = name[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len > 0 && i + len <= name.length) {
      const chunk = name.subarray(i, i + len);
      const t = chunk.toString('utf8');
      if (!t.includes('\ufffd') && Buffer.from(t, 'utf8').equals(chunk)) {
        out += t;
        i += len;
        continue;
      }
    }
    out += '\\x' + b.toString(16).padStart(2, '0');
    i++;
  }
  return out;
}

export interface ReadOptions {
  /** Leave out `.osync_workdir` at the top (default true). */
  skipWorkdir?: boolean;
  /** Show file modes: values become `<content> [0644]`, directories `<dir> [0755]`. */
  modes?: boolean;
}

export type Tree = Record<string, string>;

/** Everything below `dir`: path → file content (UTF-8), '<dir>' or '-> target'. Keys sorted bytewise. */
export function readTree(dir: string, opts: ReadOptions = {}): Tree {
  const skipWorkdir = opts.skipWorkdir ?? true;
  const out: Array<[string, string]> = [];
  const walk = (abs: Buffer, rel: string) => {
    const names = fs.readdirSync(abs as unknown as string, { encoding: 'buffer' });
    for (const n of names) {
      const key = rel ? `${rel}/${nameKey(n)}` : nameKey(n);
      if (skipWorkdir && !rel && n.toString('latin1') === WORKDIR) continue;
      const full = Buffer.concat([abs, Buffer.from('/'), n]);
      const fp = full as unknown as string;
      const st = fs.lstatSync(fp);
      const mode = opts.modes ? ` [${(st.mode & 0o7777).toString(8).padStart(4, '0')}]` : '';
      if (st.isSymbolicLink()) out.push([key, '-> ' + nameKey(fs.readlinkSync(fp, { encoding: 'buffer' }))]);
      else if (st.isDirectory()) {
        out.push([key, '<dir>' + mode]);
        walk(full, key);
      } else if (st.isFile()) out.push([key, fs.readFileSync(fp, 'utf8') + mode]);
      else out.push([key, '<special>']);
    }
  };
  walk(Buffer.from(dir.replace(/\/+$/, ''), 'utf8'), '');
  out.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  return Object.fromEntries(out);
}

/** Set mtime (and atime) of a path below `dir`, without following a symlink's target for links. */
export function setMtime(file: string, t: number | Date): void {
  const st = fs.lstatSync(file);
  if (st.isSymbolicLink()) fs.lutimesSync(file, t, t);
  else fs.utimesSync(file, t, t);
}

/** Set every entry's mtime below dir (skipping .osync_workdir) — makes a tree "old". */
export function setAllMtimes(dir: string, t: number | Date): void {
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      if (d === dir && n === WORKDIR) continue;
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      setMtime(p, t);
    }
  };
  walk(dir);
}

export function setMode(file: string, mode: number): void {
  fs.chmodSync(file, mode);
}

export function modeOf(file: string): number {
  return fs.lstatSync(file).mode & 0o7777;
}

export function mtimeOf(file: string): number {
  return Math.floor(fs.lstatSync(file).mtimeMs / 1000);
}

/** Epoch seconds `ago` seconds before now (whole seconds, so rsync's listing matches exactly). */
export function secondsAgo(ago: number): number {
  return Math.floor(Date.now() / 1000) - ago;
}

/** A fresh pair of replica directories `<root>/a` and `<root>/b`, in a temp dir readable
 *  by the loopback sshd's users; `rmTree(root)` removes them. */
export function replicaPair(prefix = 'osync-ts-pair-'): { root: string; a: string; b: string } {
  const root = tmpDir(prefix);
  fs.chmodSync(root, 0o755);
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  return { root, a, b };
}

export interface ScenarioPair {
  root: string;
  a: string;
  b: string;
  /** The initiator's state dir (a's .osync_workdir/state). */
  state: string;
}

/** A maker of replica pairs for one test file; every pair it made is removed once the
 *  file's tests are done. */
export function scenarioPairs(prefix: string): () => ScenarioPair {
  const roots: string[] = [];
  after(() => roots.forEach(rmTree));
  return () => {
    const { root, a, b } = replicaPair(prefix);
    roots.push(root);
    return { root, a, b, state: path.join(a, '.osync_workdir', 'state') };
  };
}
