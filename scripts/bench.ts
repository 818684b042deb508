#!/usr/bin/env node
// osync-ts benchmark (`make bench` = `npx tsx scripts/bench.ts`).
//
// Generates deterministic trees of small files (nested dirs of 50-200 files, sizes
// 0-4 KiB, seed 42) under $BENCH_DIR (default /tmp/osync-ts-bench) and times the
// compiled `node dist/osync.mjs` (built first with `npm run build` when dist
// is missing or older than lib/, so TypeScript compilation is never measured) on:
//   1. no-change run (replicas in sync, state initialised by two untimed runs: the first
//      records the state, the second the listings' digests, as on any cron host after
//      its first two runs),
//   2. 1% of the files modified on each side (disjoint sets, so no conflicts),
//   3. 10% of the files deleted on the initiator side,
// each beside the rsync floor measured in the same run on the same trees:
//   (1) the two `rsync -r --no-inc-recursive -ltD -8 ... --list-only` listings, run concurrently as
//       osync-ts does, with the same flags osync-ts passes by default;
//   (2)/(3) the two listings + one `rsync -a` each way (see floorTransfer()).
// Every measurement is repeated 3 times; the table shows medians. Before each timed change run
// (floor or osync-ts) dirty pages are written out with sync(1), untimed. No-change runs are timed
// without the RSS wrapper below (its start-up would count against osync-ts, the floor has
// none); their peak RSS comes from one more run each. Peak RSS is the
// osync-ts process tree's, from `/usr/bin/time -f %M` (GNU time; Debian/Ubuntu
// package `time`: `apt-get install -y time` if /usr/bin/time is missing). GNU time
// reports the largest maximum resident set of any single process in the tree (in
// practice the node process), not the sum. Without /usr/bin/time the script polls
// /proc and reports the peak of the summed RSS of the process tree instead.
// Also timed: `node dist/osync.mjs --version` start-up.
// osync-ts runs with the environment cron gives a job (CRON_ENV_KEYS), as a cron host
// runs it. When this shell exports variables that slow every Node start-up (e.g.
// NODE_EXTRA_CA_CERTS: Node then parses a certificate bundle before any code runs), the
// no-change run and the start-up are also timed with the whole environment and reported.
//
// Options:
//   --sizes=10000,100000   tree sizes (default 10000,100000)
//   --quick                10k files only, 1 repetition (does not rewrite bench/README-table.md)
//   --reps=N               repetitions per measurement (default 3)
//   --out=FILE             where to write the markdown table (default bench/README-table.md
//                          for full runs, nothing for --quick)
//   --keep                 keep the generated trees afterwards
// Environment:
//   BENCH_DIR              work directory (wiped and regenerated per size)
//   BENCH_SSH_TARGET       optional ssh://user@host:port//abs/path: adds a remote column
//                          (target replica over ssh; floor = local listing + the same
//                          listing over ssh, concurrently). The path is filled with rsync.
//   BENCH_SSH_KEY          private key for BENCH_SSH_TARGET (known hosts are ignored).
//
// Targets checked (PASS/FAIL): at 100k files, (a) no-change run within 1.3x of the two
// listings; (b) the 10%-deletion run within 2x of a no-change run.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OSYNC_JS = path.join(REPO, 'dist', 'osync.mjs');
const GNU_TIME = '/usr/bin/time';
const SEED = 42;
/** The listing flags osync-ts passes with a quick-sync's defaults (see lib/proc/rsync.ts
 *  listingArgv), as a plain --list-only (which --no-inc-recursive does not speed up). */
const LIST_FLAGS = ['-r', '--no-inc-recursive', '-ltD', '-8', '-p', '-o', '-g', '--executability', '--exclude', '.osync_workdir', '--exclude=.osync-update.push', '--list-only'];
const BASE_MTIME = 1_700_000_000;
/** Where the floor's `rsync --delete --backup` moves deleted files (inside the receiving replica). */
const FLOOR_TRASH = '.floor_deleted';

// ---------------------------------------------------------------- options

interface Options {
  sizes: number[];
  reps: number;
  quick: boolean;
  out: string | null;
  keep: boolean;
  benchDir: string;
  ssh: SshSpec | null;
}

interface SshSpec {
  uri: string;
  user: string;
  host: string;
  port: number;
  path: string;
  key: string;
}

function parseOptions(argv: string[]): Options {
  let sizes = [10_000, 100_000];
  let reps = 3;
  let quick = false;
  let out: string | null | undefined;
  let keep = false;
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a === '--keep') keep = true;
    else if (a === '--no-remote') continue;
    else if (a.startsWith('--sizes=')) sizes = a.slice(8).split(',').map((s) => Number(s.trim()));
    else if (a.startsWith('--reps=')) reps = Number(a.slice(7));
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npx tsx scripts/bench.ts [--sizes=10000,100000] [--quick] [--reps=N] [--out=FILE] [--keep] [--no-remote]\n');
      process.exit(0);
    } else throw new Error(`Unknown option ${a}`);
  }
  if (quick) {
    if (!argv.some((a) => a.startsWith('--sizes='))) sizes = [10_000];
    if (!argv.some((a) => a.startsWith('--reps='))) reps = 1;
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 100)) throw new Error('--sizes: integers >= 100');
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps: integer >= 1');
  if (out === undefined) out = quick ? null : path.join(REPO, 'bench', 'README-table.md');
  const benchDir = path.resolve(process.env['BENCH_DIR'] || path.join(os.tmpdir(), 'osync-ts-bench'));
  return { sizes, reps, quick, out, keep, benchDir, ssh: parseSsh() };
}

function parseSsh(): SshSpec | null {
  const uri = process.env['BENCH_SSH_TARGET'];
  if (!uri) return null;
  const m = /^ssh:\/\/([^@/]+)@([^:/]+|\[[^\]]+\])(?::(\d+))?\/\/(.*)$/.exec(uri);
  if (!m) throw new Error(`BENCH_SSH_TARGET: expected ssh://user@host:port//path, got ${uri}`);
  const key = process.env['BENCH_SSH_KEY'] ?? '';
  return { uri, user: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3] ?? 22), path: '/' + m[4]!.replace(/\/+$/, ''), key };
}

// ---------------------------------------------------------------- helpers

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function say(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Write dirty pages out (untimed) before a timed change run, so that neither the floor nor
 *  osync-ts is timed while the kernel writes back files the bench (or the other) just wrote. */
function settle(): void {
  spawnSync('sync');
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: opts.cwd });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

interface ProcResult {
  code: number;
  seconds: number;
  /** Peak RSS in KiB (GNU time, or /proc polling), if measured. */
  rssKb?: number;
  stderr: string;
}

/** Run a command, discard stdout (read, as osync-ts reads rsync's), keep stderr. */
function run(argv: string[], opts: { env?: NodeJS.ProcessEnv; measureRss?: boolean; discardStdout?: boolean } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    let full = argv;
    let rssFile: string | null = null;
    const useGnuTime = opts.measureRss && HAVE_GNU_TIME;
    if (useGnuTime) {
      rssFile = path.join(os.tmpdir(), `osync-ts-bench-rss.${process.pid}.${Math.random().toString(36).slice(2)}`);
      full = [GNU_TIME, '-f', '%M', '-o', rssFile, ...argv];
    }
    const t0 = process.hrtime.bigint();
    // The floor's listings go straight to /dev/null: read through a pipe into Node they
    // would cost more than the listing itself (rsync writes one line per write(2)).
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', opts.discardStdout ? 'ignore' : 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: REPO });
    let stderr = '';
    child.stdout?.on('data', () => undefined);
    child.stderr!.setEncoding('latin1').on('data', (d: string) => {
      if (stderr.length < 65536) stderr += d;
    });
    let peak = 0;
    let poll: NodeJS.Timeout | null = null;
    if (opts.measureRss && !useGnuTime && child.pid) {
      const pid = child.pid;
      poll = setInterval(() => {
        peak = Math.max(peak, treeRssKb(pid));
      }, 20);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (poll) clearInterval(poll);
      let rssKb: number | undefined = opts.measureRss && !useGnuTime ? peak : undefined;
      if (rssFile) {
        try {
          const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
          rssKb = Number(lines[lines.length - 1]);
        } catch {
          /* leave undefined */
        }
        fs.rmSync(rssFile, { force: true });
      }
      resolve({ code: code ?? (signal ? 128 : 1), seconds, rssKb, stderr });
    });
  });
}

/** Summed RSS (KiB) of a process and its descendants, from /proc. */
function treeRssKb(root: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(rest[1]);
      const pages = Number(rest[21]);
      const pid = Number(e);
      rss.set(pid, (pages * 4096) / 1024);
      const list = children.get(ppid) ?? [];
      list.push(pid);
      children.set(ppid, list);
    } catch {
      /* process gone */
    }
  }
  let sum = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    sum += rss.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return sum;
}

const HAVE_GNU_TIME = (() => {
  const r = spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' });
  return r.status === 0;
})();

// ---------------------------------------------------------------- build

function newestMtime(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return p.endsWith('.ts') ? st.mtimeMs : 0;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

function ensureBuild(): void {
  const sources = Math.max(newestMtime(path.join(REPO, 'lib')), newestMtime(path.join(REPO, 'scripts', 'osync.ts')));
  const built = fs.existsSync(OSYNC_JS) ? fs.statSync(OSYNC_JS).mtimeMs : 0;
  if (built && built >= sources) return;
  say('dist is missing or stale: npm run build');
  sh('npm', ['run', '--silent', 'build'], { cwd: REPO });
}

// ---------------------------------------------------------------- trees

interface Tree {
  /** Relative paths of every file, in generation order. */
  files: string[];
  dirs: string[];
}

const POOL_SIZE = 1 << 20;
let pool: Buffer | null = null;
function randomPool(): Buffer {
  if (pool) return pool;
  const r = prng(SEED ^ 0x5eed);
  pool = Buffer.alloc(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i += 4) pool.writeUInt32LE(Math.floor(r() * 4294967296), i);
  return pool;
}

/** Bytes of one file version: 0-4 KiB, small files more likely (sizes skewed low). */
function content(r: () => number): Buffer {
  const size = Math.floor(r() * r() * 4097);
  const off = Math.floor(r() * (POOL_SIZE - 4096));
  return randomPool().subarray(off, off + size);
}

const EXTS = ['.txt', '.md', '.json', '.c', '.h', '.ts', '.dat', '.cfg', '.log', ''];

/** Deterministic layout: directories nested up to 4 levels, each holding 50-200 files. */
function layout(n: number): Tree {
  const r = prng(SEED + n);
  const files: string[] = [];
  const dirs: string[] = [];
  const depth = new Map<string, number>();
  let left = n;
  while (left > 0) {
    const count = Math.min(left, 50 + Math.floor(r() * 151));
    const parents = dirs.filter((d) => (depth.get(d) ?? 0) < 4);
    const parent = dirs.length === 0 || r() < 0.25 || parents.length === 0 ? '' : parents[Math.floor(r() * parents.length)]!;
    const id = dirs.length;
    const name = `${parent ? parent + '/' : ''}${r() < 0.1 ? `dir ${id}` : `d${id.toString(36)}`}`;
    dirs.push(name);
    depth.set(name, (depth.get(parent) ?? -1) + 1);
    for (let i = 0; i < count; i++) {
      const ext = EXTS[Math.floor(r() * EXTS.length)]!;
      files.push(`${name}/${r() < 0.05 ? `file ${i}` : `f${i}`}${ext}`);
    }
    left -= count;
  }
  return { files, dirs };
}

function writeTree(root: string, tree: Tree, n: number): void {
  const r = prng(SEED * 7 + n);
  fs.mkdirSync(root, { recursive: true });
  for (const d of tree.dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const f of tree.files) {
    const p = path.join(root, f);
    fs.writeFileSync(p, content(r));
    const t = BASE_MTIME + Math.floor(r() * 30_000_000);
    fs.utimesSync(p, t, t);
  }
  // Directory mtimes as well, so every copy lists identically.
  for (const d of [...tree.dirs].reverse()) fs.utimesSync(path.join(root, d), BASE_MTIME, BASE_MTIME);
}

/** Write the same bytes with the same mtime into several replicas. */
function writeEverywhere(roots: string[], rel: string, data: Buffer, mtime: number): void {
  for (const root of roots) {
    const p = path.join(root, rel);
    fs.writeFileSync(p, data);
    fs.utimesSync(p, mtime, mtime);
  }
}

/** `count` distinct indexes in [0, n) drawn with the given seed, excluding `avoid`. */
function pick(n: number, count: number, seed: number, avoid: Set<number> = new Set()): number[] {
  const r = prng(seed);
  const chosen = new Set<number>();
  while (chosen.size < count) {
    const i = Math.floor(r() * n);
    if (!avoid.has(i)) chosen.add(i);
  }
  return [...chosen];
}

// ---------------------------------------------------------------- osync-ts and floors

interface Pair {
  initiator: string;
  target: string;
}

/** What cron gives a job (and the locale/tmp settings a crontab may add): osync-ts is
 *  timed as a cron host runs it, not with whatever an interactive shell has exported. */
const CRON_ENV_KEYS = ['PATH', 'HOME', 'LOGNAME', 'USER', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
function cronEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of CRON_ENV_KEYS) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/** Environment variables of this shell that slow every Node start-up (and that cron does not set). */
function slowStartVars(): string[] {
  return ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((k) => process.env[k]);
}

function osyncEnv(logFile: string, extra: Record<string, string> = {}, fullEnv = false): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(fullEnv ? process.env : cronEnv()), LOGFILE: logFile, ...extra };
  delete env['_DEBUG'];
  return env;
}

let runCounter = 0;
/** osync-ts runs that did not exit 0 (printed under the table). */
const NOTES: string[] = [];
async function runOsync(ctx: SizeCtx, pair: Pair, target: string, what: string, extraEnv: Record<string, string> = {}, fullEnv = false, measureRss = true): Promise<ProcResult> {
  const logFile = path.join(ctx.dir, `osync.${++runCounter}.log`);
  const res = await run(['node', OSYNC_JS, `--initiator=${pair.initiator}`, `--target=${target}`], {
    env: osyncEnv(logFile, extraEnv, fullEnv),
    measureRss,
  });
  if (res.code !== 0) {
    // Not fatal: the result is checked on disk by the caller; the exit code and the
    // log's error lines are reported under the table.
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : res.stderr;
    const errors = text.split('\n').filter((l) => /ERROR|CRITICAL|WARN/.test(l)).slice(0, 3);
    const note = `${ctx.n} files, ${what}: osync-ts exit ${res.code}: ${errors
      .map((l) => l.replace(/^TIME: \d+ - /, '').replace(/osync-ts\.empty\.\w+/g, 'osync-ts.empty.XXXXXX').trim())
      .join(' / ')}`;
    if (!NOTES.includes(note)) NOTES.push(note);
    say(note);
    if (res.code !== 0 && res.code !== 1 && res.code !== 2) throw new Error(`osync-ts ${what} exited ${res.code}:\n${text.split('\n').slice(-15).join('\n')}`);
  }
  fs.rmSync(logFile, { force: true });
  return res;
}

function sshShell(s: SshSpec): string {
  return ['ssh', '-o', 'Compression=no', '-q', ...(s.key ? ['-i', s.key] : []), '-o', 'BatchMode=yes', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no', '-p', String(s.port)].join(' ');
}

function sshLocation(s: SshSpec, sub: string): string {
  const h = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${s.user}@${h}:${s.path}/${sub}/`;
}

/** The two listings, concurrently, exactly as osync-ts runs them. */
async function floorListings(locations: string[], ssh: SshSpec | null = null): Promise<number> {
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(
    locations.map((loc) => {
      const remote = ssh !== null && !loc.startsWith('/');
      return run(['rsync', ...LIST_FLAGS.slice(0, -1), ...(remote ? ['-e', sshShell(ssh), '-s'] : []), '--list-only', loc], {
        env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
        discardStdout: true,
      });
    }),
  );
  for (const r of results) if (r.code !== 0) throw new Error(`floor listing failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Floor for a change scenario: the two listings, then one `rsync -a` each way.
 *
 * Fairness: the floor works on its own copy of the replica pair (bench/<n>/floor),
 * created by `cp -a` from the osync pair before its first run and then given
 * exactly the same changes (same files, same bytes, same mtimes) as the osync pair
 * before every repetition. So both do the same work on the same trees at the same
 * moment, and neither sees the other's result. The copy has no .osync_workdir.
 *
 * The two `rsync -a` run one after the other (running them concurrently on the same
 * pair would let one sender pick up the other's temp files). With --update, each
 * way carries only the side's newer files, so modifications made on both sides end
 * up everywhere (osync-ts decides the same from its state). For deletions, the way
 * away from the side that lost files runs first, with --delete; the reverse way then
 * finds nothing to copy back. Deleted files are moved aside (--backup-dir), as
 * osync-ts's default soft deletion moves them into .osync_workdir/deleted.
 */
async function floorTransfer(pair: Pair, deletionsOn: 'initiator' | null): Promise<number> {
  const t0 = process.hrtime.bigint();
  await floorListings([pair.initiator + '/', pair.target + '/']);
  const a = ['rsync', '-a', '--update', '--exclude', '.osync_workdir', '--exclude', FLOOR_TRASH];
  if (deletionsOn === 'initiator') {
    // Deleted files are moved aside (--backup-dir), not unlinked: osync-ts soft-deletes
    // (renames into .osync_workdir/deleted) by default, and an unlink can cost far more
    // than a rename (ext4 mounted with discard issues a discard per freed file).
    await check(run([...a, '--delete', '--backup', `--backup-dir=${FLOOR_TRASH}`, '--exclude', FLOOR_TRASH, pair.initiator + '/', pair.target + '/']));
    await check(run([...a, pair.target + '/', pair.initiator + '/']));
  } else {
    await check(run([...a, pair.initiator + '/', pair.target + '/']));
    await check(run([...a, pair.target + '/', pair.initiator + '/']));
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function check(p: Promise<ProcResult>): Promise<ProcResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`rsync failed (${r.code}): ${r.stderr}`);
  return r;
}

// ---------------------------------------------------------------- scenarios

interface Row {
  files: number;
  scenario: string;
  osync: number;
  floor: number;
  rssKb: number;
  /** No-change run with this shell's whole environment (when it differs from cron's in a way that matters). */
  osyncFullEnv?: number;
  remote?: { osync: number; floor: number; rssKb: number };
}

interface SizeCtx {
  n: number;
  dir: string;
  tree: Tree;
  osync: Pair;
  floor: Pair;
}

function bothSides(p: Pair): string[] {
  return [p.initiator, p.target];
}

async function benchSize(n: number, o: Options): Promise<Row[]> {
  const dir = path.join(o.benchDir, `n${n}`);
  say(`${n} files: generating trees in ${dir}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tree = layout(n);
  const ctx: SizeCtx = {
    n,
    dir,
    tree,
    osync: { initiator: path.join(dir, 'osync', 'initiator'), target: path.join(dir, 'osync', 'target') },
    floor: { initiator: path.join(dir, 'floor', 'initiator'), target: path.join(dir, 'floor', 'target') },
  };
  writeTree(ctx.osync.initiator, tree, n);
  fs.mkdirSync(path.join(dir, 'floor'), { recursive: true });
  for (const d of [ctx.osync.target, ctx.floor.initiator, ctx.floor.target]) sh('cp', ['-a', ctx.osync.initiator, d]);
  say(`${n} files: ${tree.dirs.length} dirs; initial (untimed) osync-ts runs`);
  await runOsync(ctx, ctx.osync, ctx.osync.target, 'first run');
  // The second run finds everything unchanged since the first and records the listings'
  // digests; from the third on, a no-change run is what a cron run with nothing to do is.
  await runOsync(ctx, ctx.osync, ctx.osync.target, 'settling run');
  // Warm the page cache for both pairs.
  await floorListings(bothSides(ctx.osync).map((d) => d + '/'));
  await floorListings(bothSides(ctx.floor).map((d) => d + '/'));

  const rows: Row[] = [];
  const liveFiles = [...tree.files];

  // 1. no change
  {
    const os: number[] = [];
    const fl: number[] = [];
    const rss: number[] = [];
    const full: number[] = [];
    for (let rep = 0; rep < o.reps; rep++) {
      fl.push(await floorListings(bothSides(ctx.osync).map((d) => d + '/')));
      // Timed without the RSS wrapper (its own start-up would count against osync-ts,
      // and the floor has none); the peak RSS comes from a run of its own.
      const r = await runOsync(ctx, ctx.osync, ctx.osync.target, 'no-change run', {}, false, false);
      os.push(r.seconds);
      rss.push((await runOsync(ctx, ctx.osync, ctx.osync.target, 'no-change run (peak RSS)')).rssKb ?? 0);
      if (slowStartVars().length) full.push((await runOsync(ctx, ctx.osync, ctx.osync.target, 'no-change run (shell environment)', {}, true, false)).seconds);
      say(`${n} no-change rep ${rep + 1}: osync-ts ${r.seconds.toFixed(2)}s, listings ${fl[rep]!.toFixed(2)}s${full.length ? `, osync-ts with this shell's environment ${full[rep]!.toFixed(2)}s` : ''}`);
    }
    rows.push({ files: n, scenario: 'no change', osync: median(os), floor: median(fl), rssKb: median(rss), ...(full.length ? { osyncFullEnv: median(full) } : {}) });
  }

  // 2. 1% modified on each side
  {
    const os: number[] = [];
    const fl: number[] = [];
    const rss: number[] = [];
    const count = Math.max(1, Math.round(n * 0.01));
    for (let rep = 0; rep < o.reps; rep++) {
      const r = prng(SEED * 1000 + rep);
      const onI = pick(liveFiles.length, count, SEED * 31 + rep);
      const onT = pick(liveFiles.length, count, SEED * 37 + rep, new Set(onI));
      const mtime = BASE_MTIME + 40_000_000 + rep * 10;
      for (const i of onI) writeEverywhere([ctx.osync.initiator, ctx.floor.initiator], liveFiles[i]!, content(r), mtime);
      for (const i of onT) writeEverywhere([ctx.osync.target, ctx.floor.target], liveFiles[i]!, content(r), mtime);
      settle();
      fl.push(await floorTransfer(ctx.floor, null));
      settle();
      const res = await runOsync(ctx, ctx.osync, ctx.osync.target, '1%-modified run');
      os.push(res.seconds);
      rss.push(res.rssKb ?? 0);
      verifySame(ctx, [...onI, ...onT].slice(0, 50).map((i) => liveFiles[i]!));
      say(`${n} 1%-modified rep ${rep + 1}: osync-ts ${res.seconds.toFixed(2)}s, floor ${fl[rep]!.toFixed(2)}s`);
    }
    rows.push({ files: n, scenario: '1% modified each side', osync: median(os), floor: median(fl), rssKb: median(rss) });
  }

  // 3. 10% deleted on the initiator
  {
    const os: number[] = [];
    const fl: number[] = [];
    const rss: number[] = [];
    const count = Math.round(n * 0.1);
    // Every repetition starts after a run that left both replicas as it listed them (the
    // restore run below does for the later ones): untimed, this one does for the first.
    // Without it the first follows the 1%-modified run, which changed both replicas, so
    // both listings must be read (see the README).
    await runOsync(ctx, ctx.osync, ctx.osync.target, 'settling run');
    for (let rep = 0; rep < o.reps; rep++) {
      const gone = pick(liveFiles.length, count, SEED * 41 + rep).map((i) => liveFiles[i]!);
      for (const f of gone) for (const root of [ctx.osync.initiator, ctx.floor.initiator]) fs.unlinkSync(path.join(root, f));
      settle();
      fl.push(await floorTransfer(ctx.floor, 'initiator'));
      settle();
      const res = await runOsync(ctx, ctx.osync, ctx.osync.target, '10%-deleted run');
      os.push(res.seconds);
      rss.push(res.rssKb ?? 0);
      for (const f of gone.slice(0, 50)) {
        if (fs.existsSync(path.join(ctx.osync.target, f))) throw new Error(`osync-ts did not propagate the deletion of ${f}`);
      }
      say(`${n} 10%-deleted rep ${rep + 1}: osync-ts ${res.seconds.toFixed(2)}s, floor ${fl[rep]!.toFixed(2)}s`);
      // Untimed: put the files back (identical on all four replicas), empty the
      // soft-deletion trash and let osync-ts record them, so every repetition
      // starts from the full tree.
      const r = prng(SEED * 2000 + rep);
      const mtime = BASE_MTIME + 50_000_000 + rep * 10;
      const all = [...bothSides(ctx.osync), ...bothSides(ctx.floor)];
      for (const f of gone) writeEverywhere(all, f, content(r), mtime);
      for (const root of bothSides(ctx.osync)) fs.rmSync(path.join(root, '.osync_workdir', 'deleted'), { recursive: true, force: true });
      for (const root of bothSides(ctx.floor)) fs.rmSync(path.join(root, FLOOR_TRASH), { recursive: true, force: true });
      await runOsync(ctx, ctx.osync, ctx.osync.target, 'restore run');
    }
    rows.push({ files: n, scenario: '10% deleted on one side', osync: median(os), floor: median(fl), rssKb: median(rss) });
  }

  if (o.ssh) await benchRemote(ctx, o, rows);
  if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  return rows;
}

function verifySame(ctx: SizeCtx, files: string[]): void {
  for (const f of files) {
    const a = fs.readFileSync(path.join(ctx.osync.initiator, f));
    const b = fs.readFileSync(path.join(ctx.osync.target, f));
    if (!a.equals(b)) throw new Error(`osync-ts left ${f} different on the two replicas`);
  }
}

/** Remote column: the no-change run with the target over ssh, against the local
 *  listing + the same listing over ssh (run concurrently). */
async function benchRemote(ctx: SizeCtx, o: Options, rows: Row[]): Promise<void> {
  const s = o.ssh!;
  const sub = `osync-ts-bench-n${ctx.n}`;
  const uri = `${s.uri.replace(/\/+$/, '')}/${sub}`;
  say(`${ctx.n} files: filling ${uri}`);
  // Seed the remote replica with the local target's files and state-free workdir.
  await check(run(['rsync', '-a', '--delete', '--exclude', '.osync_workdir', '-e', sshShell(s), '--rsync-path', `mkdir -p ${s.path}/${sub} && rsync`, ctx.osync.target + '/', sshLocation(s, sub)]));
  const local: Pair = { initiator: ctx.osync.initiator, target: uri };
  const env = { SSH_IGNORE_KNOWN_HOSTS: 'true', ...(s.key ? { SSH_RSA_PRIVATE_KEY: s.key } : {}) };
  // The local initiator's state belongs to the local pair: use a separate instance id.
  const extra = { ...env, INSTANCE_ID: 'bench_remote' };
  await runOsync(ctx, local, uri, 'remote first run', extra);
  await runOsync(ctx, local, uri, 'remote settling run', extra);
  await floorListings([ctx.osync.initiator + '/', sshLocation(s, sub)], s);
  const os: number[] = [];
  const fl: number[] = [];
  const rss: number[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    fl.push(await floorListings([ctx.osync.initiator + '/', sshLocation(s, sub)], s));
    const r = await runOsync(ctx, local, uri, 'remote no-change run', extra, false, false);
    os.push(r.seconds);
    rss.push(r.rssKb ?? 0);
    say(`${ctx.n} remote no-change rep ${rep + 1}: osync-ts ${r.seconds.toFixed(2)}s, listings ${fl[rep]!.toFixed(2)}s`);
  }
  const row = rows.find((x) => x.scenario === 'no change');
  if (row) row.remote = { osync: median(os), floor: median(fl), rssKb: median(rss) };
}

// ---------------------------------------------------------------- report

async function startup(reps: number, fullEnv = false): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < Math.max(reps, 5); i++) {
    const r = await run(['node', OSYNC_JS, '--version'], { env: fullEnv ? process.env : cronEnv() });
    if (r.code !== 0) throw new Error(`--version exited ${r.code}`);
    xs.push(r.seconds);
  }
  return median(xs);
}

function gitRev(): string {
  const r = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: REPO, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

function render(rows: Row[], o: Options, startupS: { cron: number; full?: number }, elapsedS: number): string {
  const f2 = (x: number) => x.toFixed(2);
  const mib = (kb: number) => (kb ? (kb / 1024).toFixed(0) : '?');
  const remote = rows.some((r) => r.remote);
  const head = ['files', 'scenario', 'osync-ts s', 'floor s', 'ratio', 'peak RSS MiB'];
  if (remote) head.push('remote osync-ts s', 'remote floor s', 'remote ratio');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const cells = [r.files.toLocaleString('en-US'), r.scenario, f2(r.osync), f2(r.floor), `${f2(r.osync / r.floor)}x`, mib(r.rssKb)];
    if (remote) cells.push(...(r.remote ? [f2(r.remote.osync), f2(r.remote.floor), `${f2(r.remote.osync / r.remote.floor)}x`] : ['', '', '']));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const out: string[] = [];
  out.push(`# osync-ts benchmark`, '');
  out.push(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitRev()}, ${os.cpus().length} cores, ` +
      `node ${process.version}, ${rsyncVersion()}, median of ${o.reps} run(s), total bench time ${Math.round(elapsedS)} s, ` +
      `load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the machine inflates both columns).`,
    '',
  );
  out.push(...lines, '');
  out.push(
    'Floor: (no change) the two `rsync -r --no-inc-recursive -ltD -8 -p -o -g --executability --list-only` listings run concurrently; ' +
      '(changes) the two listings + `rsync -a --update` each way on a copy of the pair given the same changes ' +
      '(`--delete --backup-dir` from the side that lost files, i.e. moved aside like osync-ts\'s soft deletion). Peak RSS: ' +
      (HAVE_GNU_TIME ? '`/usr/bin/time -f %M` (largest single process of the osync-ts tree).' : 'summed RSS of the osync-ts process tree, polled from /proc.'),
    '',
  );
  out.push(`Start-up: \`node dist/osync.mjs --version\` ${(startupS.cron * 1000).toFixed(0)} ms (median).`, '');
  out.push(
    'osync-ts runs with the environment cron gives a job (' + CRON_ENV_KEYS.join(', ') + ', where set), as on a cron host.' +
      (startupS.full !== undefined
        ? ` This shell also sets ${slowStartVars().join(', ')}, which every Node start-up pays for (\`--version\` ${(startupS.full * 1000).toFixed(0)} ms); ` +
          `with that environment: ${rows
            .filter((r) => r.osyncFullEnv !== undefined)
            .map((r) => `${r.files.toLocaleString('en-US')} files no change ${r.osyncFullEnv!.toFixed(2)} s (${(r.osyncFullEnv! / r.floor).toFixed(2)}x)`)
            .join(', ')}.`
        : ''),
    '',
  );
  if (NOTES.length) {
    out.push('osync-ts runs that did not exit 0 (results were still checked on disk):', '');
    for (const n of NOTES) out.push(`- ${n}`);
    out.push('');
  }
  out.push('Targets:', '');
  for (const t of targets(rows)) out.push(`- ${t}`);
  out.push('', 'Run: `make bench` (or `npx tsx scripts/bench.ts [--sizes=10000,100000] [--quick] [--reps=N]`).', '');
  return out.join('\n');
}

function targets(rows: Row[]): string[] {
  const big = Math.max(...rows.map((r) => r.files));
  const at = (s: string) => rows.find((r) => r.files === big && r.scenario === s);
  const nc = at('no change');
  const del = at('10% deleted on one side');
  const note = big === 100_000 ? '' : ` (measured at ${big.toLocaleString('en-US')} files; the target is stated for 100,000)`;
  const out: string[] = [];
  if (nc) {
    const ratio = nc.osync / nc.floor;
    out.push(`${ratio <= 1.3 ? 'PASS' : 'FAIL'}: no-change run within 1.3x of the two listings: ${ratio.toFixed(2)}x${note}`);
  }
  if (nc && del) {
    const ratio = del.osync / nc.osync;
    out.push(`${ratio <= 2 ? 'PASS' : 'FAIL'}: 10% deletions within 2x of a no-change run: ${ratio.toFixed(2)}x${note}`);
  }
  return out;
}

function rsyncVersion(): string {
  const r = spawnSync('rsync', ['--version'], { encoding: 'utf8' });
  const m = /version\s+(\S+)/.exec(r.stdout ?? '');
  return m ? `rsync ${m[1]}` : 'rsync ?';
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const t0 = Date.now();
  if (!HAVE_GNU_TIME) say('/usr/bin/time not found (apt-get install -y time): polling /proc for peak RSS instead');
  ensureBuild();
  fs.mkdirSync(o.benchDir, { recursive: true });
  // The remote column: with no BENCH_SSH_TARGET, run against the test suite's own
  // loopback sshd when this machine can start one (root, openssh-server installed).
  let sshd: { stop(): Promise<void> } | null = null;
  if (!o.ssh && !process.argv.includes('--no-remote') && process.getuid?.() === 0 && fs.existsSync('/usr/sbin/sshd')) {
    const { startSshd, keyPath } = await import('../test/support/sshd.js');
    const s = await startSshd();
    sshd = s;
    const remoteDir = path.join(o.benchDir, 'remote');
    fs.mkdirSync(remoteDir, { recursive: true });
    o.ssh = { uri: `ssh://root@127.0.0.1:${s.port}/${remoteDir}`, user: 'root', host: '127.0.0.1', port: s.port, path: remoteDir, key: keyPath(s, 'root') };
    say(`remote column: loopback sshd on port ${s.port}`);
  }
  const startupS = { cron: await startup(o.reps), ...(slowStartVars().length ? { full: await startup(o.reps, true) } : {}) };
  say(`start-up (--version): ${(startupS.cron * 1000).toFixed(0)} ms${startupS.full !== undefined ? `, with this shell's environment ${(startupS.full * 1000).toFixed(0)} ms` : ''}`);
  const rows: Row[] = [];
  for (const n of o.sizes) rows.push(...(await benchSize(n, o)));
  await sshd?.stop();
  const text = render(rows, o, startupS, (Date.now() - t0) / 1000);
  process.stdout.write(text);
  if (o.out) {
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    fs.writeFileSync(o.out, text);
    say(`table written to ${path.relative(process.cwd(), o.out) || o.out}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
