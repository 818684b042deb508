// Fault tolerance (osync §6): a run killed with SIGKILL at any point — every phase, half-way
// through saving state, in the middle of a transfer, in the middle of a batch of deletions —
// loses nothing and the next run converges on exactly what an uninterrupted run produces;
// resume bookkeeping; failed deletions are reported and retried; files that vanish or change
// during a run; two runs racing. Local target here, the same against a real sshd in
// faults-remote.test.ts (both files share this module's scenario code through `faultSuite`).
//
// A "kill -9 / power loss" is simulated by SIGKILL to the whole process group of the run
// (osync-ts, its rsync and ssh children), so nothing gets to clean up.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, binArgv, explain, type OsyncResult } from './support/osync.js';
import { keyPath, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { rmTree, secondsAgo, tmpDir, writeTree } from './support/tree.js';

const ID = 'quicksync_task';
const T0 = secondsAgo(100_000);
const T1 = secondsAgo(5_000);
const MANY = 2000;

const roots: string[] = [];
const immutable: string[] = [];
after(() => {
  for (const f of immutable) spawnSync('chattr', ['-i', f]);
  roots.forEach(rmTree);
});

// ---------------------------------------------------------------- running osync-ts

interface Mode {
  name: 'local' | 'remote';
  /** Command line for a run between a and b. */
  args(a: string, b: string): string[];
  env(): Record<string, string>;
}

const localMode: Mode = {
  name: 'local',
  args: (a, b) => [`--initiator=${a}`, `--target=${b}`],
  env: () => ({}),
};

function remoteMode(get: () => TestSshd): Mode {
  return {
    name: 'remote',
    args: (a, b) => [`--initiator=${a}`, `--target=${sshdUri(get(), 'root', b)}`, `--rsakey=${keyPath(get(), 'root')}`],
    env: () => ({ SSH_OPTIONAL_ARGS: sshdClientArgs(get()).join(' ') }),
  };
}

interface Started {
  pid: number;
  /** SIGKILL to the run and every process it started (its own process group). */
  killAll(): void;
  done: Promise<OsyncResult>;
}

let runCounter = 0;
/** Start a run in its own process group; the log goes to a file next to the replicas. */
function start(root: string, args: string[], env: Record<string, string>): Started {
  const logFile = path.join(root, `run-${++runCounter}.log`);
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  const [cmd, ...pre] = binArgv();
  const child = spawn(cmd, [...pre, ...args], {
    cwd: REPO_ROOT,
    env: { ...base, ...env, LOGFILE: logFile },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => killGroup(child.pid!), 80_000);
  const done = new Promise<OsyncResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        log: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '',
        logFile,
        pid: child.pid ?? -1,
      });
    });
  });
  return { pid: child.pid!, killAll: () => killGroup(child.pid!), done };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function run(mode: Mode, p: Pair, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<OsyncResult> {
  // Convergence is tested here; the deletion guard (guard-e2e.test.ts) is relaxed.
  return start(p.root, [...mode.args(p.a, p.b), ...extraArgs], { MAX_DELETE_PERCENT: '100', ...mode.env(), ...env }).done;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Busy-wait (blocks this process, not the run): for moments too short for a timer. */
function spinUntil(cond: () => boolean, ms = 30_000): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) if (cond()) return true;
  return false;
}

// ---------------------------------------------------------------- replicas and trees

interface Pair {
  root: string;
  a: string;
  b: string;
  state: string;
}

function pairAt(root: string): Pair {
  return { root, a: path.join(root, 'a'), b: path.join(root, 'b'), state: path.join(root, 'a', '.osync_workdir', 'state') };
}

function newPair(): Pair {
  const root = tmpDir('osync-ts-faults-');
  roots.push(root);
  fs.chmodSync(root, 0o755);
  const p = pairAt(root);
  fs.mkdirSync(p.a);
  fs.mkdirSync(p.b);
  return p;
}

/** An identical copy (content, modes, mtimes, state) of a pair's replicas. */
function copyPair(from: Pair): Pair {
  const p = newPair();
  for (const s of ['a', 'b'] as const) {
    fs.rmSync(p[s], { recursive: true });
    const r = spawnSync('cp', ['-a', from[s], p[s]]);
    assert.equal(r.status, 0, r.stderr.toString());
  }
  return p;
}

const digest = (f: string) => createHash('sha1').update(fs.readFileSync(f)).digest('hex').slice(0, 16);

/** path → sha1 of the content, '<dir>' or '-> target'; .osync_workdir at the top left out. */
function hashTree(dir: string, skipWorkdir = true): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  const walk = (abs: string, rel: string) => {
    for (const n of fs.readdirSync(abs).sort()) {
      if (skipWorkdir && !rel && n === '.osync_workdir') continue;
      const full = path.join(abs, n);
      const key = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(full);
      if (st.isSymbolicLink()) out[key] = '-> ' + fs.readlinkSync(full);
      else if (st.isDirectory()) {
        out[key] = '<dir>';
        walk(full, key);
      } else out[key] = digest(full);
    }
  };
  walk(dir, '');
  return out;
}

/** Every file version of a tree as "path = hash". */
function versions(tree: Record<string, string>): Set<string> {
  return new Set(Object.entries(tree).filter(([, v]) => v !== '<dir>').map(([k, v]) => `${k} = ${v}`));
}

/** Every file version kept anywhere: on a replica, or in either side's deleted/ or backup/. */
function keptVersions(p: Pair): Set<string> {
  const out = new Set<string>();
  for (const r of [p.a, p.b]) {
    for (const where of [r, path.join(r, '.osync_workdir/deleted'), path.join(r, '.osync_workdir/backup')]) {
      for (const v of versions(hashTree(where, where === r))) out.add(v);
    }
  }
  return out;
}

const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : null);
const lockOf = (r: string) => read(path.join(r, '.osync_workdir/lock'));
const marker = (p: Pair) => read(path.join(p.state, `initiator-last-action-${ID}`))?.trim();
const resumeCount = (p: Pair) => read(path.join(p.state, `resume-count-${ID}`))?.trim();
const problems = (r: OsyncResult) => r.log.split('\n').filter((l) => /\((ERROR|CRITICAL)\):/.test(l));

/**
 * Two synced replicas, then work of every kind pending: new, modified and deleted files on
 * each side, a conflict (the target's version newer), a directory deleted on the initiator,
 * a file deleted on one side and edited on the other, a 1.5 MB new file, and MANY
 * individual files deleted on the target (one batch of deletions on the initiator).
 */
async function pendingWork(mode: Mode): Promise<Pair> {
  const p = newPair();
  const base: Record<string, string> = {
    keep: 'unchanged',
    'mod-a': 'mod-a v1',
    'mod-b': 'mod-b v1',
    'del-a': 'del-a v1',
    'del-b': 'del-b v1',
    both: 'both v1',
    'gone/x': 'gone x',
    'gone/sub/y': 'gone y',
    keptdel: 'keptdel v1',
    'many/stay': 'stay',
  };
  for (let i = 0; i < MANY; i++) base[`many/f${String(i).padStart(5, '0')}`] = `many ${i}`;
  writeTree(p.a, base, { mtime: T0 });
  const r = await run(mode, p);
  assert.equal(r.code, 0, explain(r));
  writeTree(p.a, { 'new-a': 'new on a', 'mod-a': 'mod-a v2 (a)', both: 'both: a version', 'newdir/z': 'z', 'big.bin': randomBytes(1_500_000) }, { mtime: T1 });
  writeTree(p.b, { 'new-b': 'new on b', 'mod-b': 'mod-b v2 (b)', both: 'both: b version, newer', keptdel: 'keptdel edited on b' }, { mtime: T1 + 100 });
  for (const f of ['del-a', 'keptdel']) fs.rmSync(path.join(p.a, f));
  fs.rmSync(path.join(p.a, 'gone'), { recursive: true });
  fs.rmSync(path.join(p.b, 'del-b'));
  for (let i = 0; i < MANY; i++) fs.rmSync(path.join(p.b, `many/f${String(i).padStart(5, '0')}`));
  return p;
}

type Point = 'check' | 'lock' | 'list' | 'plan' | 'delete' | 'transfer' | 'commit' | 'commit-half' | 'cleanup' | 'mid-transfer' | 'mid-deletion';
/** A point, or a point in a run whose after state is written by a thread of its own while
 *  the changes are applied (as on a large tree; lib/state/background-write.ts). */
type Kill = Point | `${Point} (state thread)`;
const KILLS: Kill[] = ['check', 'lock', 'list', 'plan', 'delete', 'transfer', 'commit', 'commit-half', 'cleanup', 'mid-transfer', 'mid-deletion', 'mid-deletion (state thread)', 'commit-half (state thread)'];
/** Killed before the run wrote its locks / its first resume marker. */
const BEFORE_LOCKS: Kill[] = ['check', 'lock'];

/** Start a run and SIGKILL it (with its children) at `at`; returns the killed run. */
async function killAt(mode: Mode, p: Pair, kill: Kill): Promise<OsyncResult> {
  const pauseFile = path.join(p.root, 'paused-at');
  fs.rmSync(pauseFile, { force: true });
  const env: Record<string, string> = { MAX_DELETE_PERCENT: '100', ...mode.env() };
  const at = kill.replace(' (state thread)', '') as Point;
  if (at !== kill) env.OSYNC_TS_TEST_STATE_THREAD_MIN_BYTES = '1';
  if (at === 'mid-transfer') env.BANDWIDTH = '300';
  else if (at !== 'mid-deletion') Object.assign(env, { OSYNC_TS_TEST_PAUSE_AT: at, OSYNC_TS_TEST_PAUSE_FILE: pauseFile });
  const s = start(p.root, mode.args(p.a, p.b), env);
  let exited = false;
  void s.done.then(() => (exited = true));
  if (at === 'mid-transfer') {
    // rsync's temp file for big.bin grows in the target's .osync_workdir/tmp.
    const tmp = path.join(p.b, '.osync_workdir/tmp');
    const growing = () => fs.existsSync(tmp) && fs.readdirSync(tmp).some((n) => fs.statSync(path.join(tmp, n)).size > 200_000);
    await waitFor('the big transfer to be under way', () => growing() || exited);
    assert.ok(!exited, 'the run ended before the transfer could be interrupted');
  } else if (at === 'mid-deletion') {
    // The MANY deletions go into the initiator's trash one by one: kill after the first
    // has landed (rsync creates the folder a moment before it moves anything into it).
    const trash = path.join(p.a, '.osync_workdir/deleted/many');
    const started = spinUntil(() => {
      try {
        return fs.readdirSync(trash).length > 0;
      } catch {
        return false;
      }
    });
    s.killAll();
    assert.ok(started, 'deletions never started');
  } else {
    await waitFor(`the pause at ${at}`, () => read(pauseFile) === at || exited);
    assert.ok(!exited, `the run ended without reaching ${at}`);
  }
  s.killAll();
  const r = await s.done;
  assert.equal(r.signal, 'SIGKILL', explain(r));
  if (at === 'mid-deletion') {
    const n = fs.readdirSync(path.join(p.a, '.osync_workdir/deleted/many')).length;
    assert.ok(n > 0 && n < MANY, `killed mid-deletion: ${n} of ${MANY} deleted files moved`);
  }
  if (at === 'mid-transfer') assert.ok(!fs.existsSync(path.join(p.b, 'big.bin')), 'the big file is not in place yet');
  return r;
}

// ---------------------------------------------------------------- the suites

export function faultSuite(mode: Mode, opts: { setup?: () => Promise<void>; teardown?: () => Promise<void> } = {}): void {
  if (opts.setup) before(opts.setup);
  if (opts.teardown) after(opts.teardown);

  describe(`${mode.name} target: SIGKILL at any point loses nothing and the next run converges`, { concurrency: 2 }, () => {
    let template: Pair;
    let control: { a: Record<string, string>; b: Record<string, string> };
    before(async () => {
      template = await pendingWork(mode);
      // The control: the same starting trees, one uninterrupted run.
      const c = copyPair(template);
      const r = await run(mode, c);
      assert.equal(r.code, 0, explain(r));
      control = { a: hashTree(c.a), b: hashTree(c.b) };
      assert.deepEqual(control.b, control.a);
      assert.equal(read(path.join(c.a, 'both')), 'both: b version, newer');
      assert.equal(read(path.join(c.a, 'keptdel')), 'keptdel edited on b');
      assert.ok(!('gone' in control.a) && !('del-a' in control.a) && !('del-b' in control.a) && !('many/f00000' in control.a));
    });

    for (const at of KILLS) {
      test(`killed at ${at}`, async () => {
        const p = copyPair(template);
        const pre = new Set([...versions(hashTree(p.a)), ...versions(hashTree(p.b))]);
        const killed = await killAt(mode, p, at);

        // Right after the kill: nothing half-written is visible on a replica — every file
        // there is a version that existed before the run (rsync's temp files stay in
        // .osync_workdir/tmp).
        for (const r of [p.a, p.b]) {
          for (const v of versions(hashTree(r))) assert.ok(pre.has(v), `after the kill, ${r} holds a file no replica had: ${v}`);
        }
        if (at === 'commit-half (state thread)') {
          const staged = fs.readdirSync(path.join(p.a, '.osync_workdir/state')).filter((n) => n.endsWith(`.staged-${killed.pid}`));
          assert.deepEqual(staged.sort(), [`target-tree-after-${ID}.meta.staged-${killed.pid}`, `target-tree-after-${ID}.staged-${killed.pid}`], 'the target half, staged by the thread, left');
        }
        const lockText = `${killed.pid}@${ID}\n`;
        const locked = !BEFORE_LOCKS.includes(at);
        assert.equal(lockOf(p.a), locked ? lockText : null, 'initiator lock left by the killed run');
        assert.equal(lockOf(p.b), locked ? lockText : null, 'target lock left by the killed run');
        const interrupted = locked && at !== 'cleanup';
        if (interrupted) assert.notEqual(marker(p), 'synced');
        else assert.equal(marker(p), 'synced');

        const r = await run(mode, p);
        assert.equal(r.code, 0, explain(r));
        assert.deepEqual(problems(r), []);
        // Both replicas equal, and equal to the uninterrupted control run.
        const ta = hashTree(p.a);
        assert.deepEqual(hashTree(p.b), ta);
        assert.deepEqual(ta, control.a);
        // Nothing lost: every version from before is on a replica or in a trash.
        const kept = keptVersions(p);
        const lost = [...pre].filter((v) => !kept.has(v));
        assert.deepEqual(lost, [], 'file versions lost');
        // The stale locks were taken over, with osync's notices, and are gone now.
        const local = `There is a local dead osync lock [${killed.pid}@${ID}] that is no longer running. Resuming.`;
        const remote = `There is a remote dead osync lock [${killed.pid}@${ID}] on target replica that corresponds to this initiator INSTANCE_ID. Pid [${killed.pid}] no longer running. Resuming.`;
        const notices = r.log.split('\n').filter((l) => l.includes('dead osync lock'));
        if (!locked) assert.deepEqual(notices, []);
        else {
          const want = mode.name === 'local' ? [local, local] : [local, remote];
          assert.deepEqual(notices.map((l) => l.replace(/^.*?(There is)/, '$1')).sort(), want.sort(), r.log);
        }
        assert.equal(lockOf(p.a), null);
        assert.equal(lockOf(p.b), null);
        // Resume bookkeeping.
        if (interrupted) assert.match(r.log, /Trying to resume aborted execution on .* at task \[[\w-]+\] for initiator\. \[0\] previous tries\./);
        else assert.doesNotMatch(r.log, /Trying to resume/);
        assert.equal(marker(p), 'synced');
        assert.equal(resumeCount(p), '0');
        // rsync's leftovers were cleaned away, and the killed run's half-written state files.
        assert.deepEqual(fs.readdirSync(path.join(p.b, '.osync_workdir/tmp')), []);
        assert.deepEqual(fs.readdirSync(path.join(p.a, '.osync_workdir/state')).filter((n) => /\.(tmp|staged)-\d+$/.test(n)), []);
      });
    }
  });

  describe(`${mode.name} target: resume limits, failed deletions, files changing under the run, racing runs`, { concurrency: 2 }, () => {
    // Resume bookkeeping lives in the initiator's state dir whatever the target; the remote
    // suite checks it after each kill above and leaves this slower test to the local one.
    test('RESUME_TRY exceeded → WARN "Too many resume tries", exit 2, fresh sync; --no-resume → silent', { skip: mode.name === 'remote' && 'local suite only' }, async () => {
      const small = async () => {
        const p = newPair();
        writeTree(p.a, { f: 'f v1', g: 'g' }, { mtime: T0 });
        assert.equal((await run(mode, p)).code, 0);
        writeTree(p.a, { f: 'f v2', n: 'new' }, { mtime: T1 });
        return p;
      };
      const p = await small();
      await killAt(mode, p, 'plan');
      assert.equal(marker(p), 'replica-tree');
      await killAt(mode, p, 'plan'); // resumes once (count 0 → 1), killed again
      assert.equal(resumeCount(p), '1');
      const r = await run(mode, p, [], { RESUME_TRY: '1' });
      assert.equal(r.code, 2, explain(r));
      assert.match(r.log, /\(WARN\):Will not resume aborted execution\. Too many resume tries \[1\]\./);
      assert.doesNotMatch(r.log, /Trying to resume/);
      assert.deepEqual(hashTree(p.b), hashTree(p.a));
      assert.equal(read(path.join(p.b, 'f')), 'f v2');
      assert.equal(resumeCount(p), '0');
      assert.equal(marker(p), 'synced');

      const q = await small();
      await killAt(mode, q, 'transfer');
      const nr = await run(mode, q, ['--no-resume']);
      assert.equal(nr.code, 0, explain(nr));
      assert.doesNotMatch(nr.log, /resume tries|Trying to resume|\(WARN\)/);
      assert.deepEqual(hashTree(q.b), hashTree(q.a));
      assert.equal(read(path.join(q.b, 'n')), 'new');
      assert.equal(resumeCount(q), '0');
    });

    test('a deletion that fails is reported (exit 1, ERROR naming it, failed-delete list) and retried once the cause is gone', async () => {
      // Root ignores directory permissions, so the file is made immutable (chattr +i):
      // rsync cannot move it into the trash, even as root.
      const p = newPair();
      writeTree(p.a, { 'locked/x': 'locked x', 'locked/y': 'y', other: 'o' }, { mtime: T0 });
      assert.equal((await run(mode, p)).code, 0);
      fs.rmSync(path.join(p.a, 'locked/x'));
      writeTree(p.a, { n: 'new' }, { mtime: T1 });
      const x = path.join(p.b, 'locked/x');
      const ch = spawnSync('chattr', ['+i', x]);
      assert.equal(ch.status, 0, `chattr +i failed: ${ch.stderr}`);
      immutable.push(x);
      const failedList = path.join(p.state, `target-failed-delete-${ID}`);
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await run(mode, p);
        assert.equal(r.code, 1, explain(r));
        assert.match(r.log, /\(ERROR\):Cannot move \[locked\/x\] to deleted directory on target replica\./);
        assert.match(r.log, /\(CRITICAL\):Deletion on target replica failed\./);
        assert.match(r.log, /\(ERROR\):osync finished with errors\./);
        assert.equal(read(failedList), 'locked/x\n');
        assert.equal(read(x), 'locked x');
        assert.equal(read(path.join(p.b, 'n')), 'new', 'the rest of the sync was done');
        assert.equal(lockOf(p.a), null);
        assert.equal(lockOf(p.b), null);
      }
      spawnSync('chattr', ['-i', x]);
      // Two failed runs in a row used up quick sync's RESUME_TRY=1, so this run says it
      // starts afresh (WARN, exit 2, as osync); a fresh start re-detects the deletion.
      const r = await run(mode, p);
      assert.equal(r.code, 2, explain(r));
      assert.match(r.log, /\(WARN\):Will not resume aborted execution\. Too many resume tries \[1\]\./);
      assert.deepEqual(problems(r), []);
      assert.ok(!fs.existsSync(x));
      assert.equal(read(path.join(p.b, '.osync_workdir/deleted/locked/x')), 'locked x');
      assert.equal(read(failedList), null);
      assert.deepEqual(hashTree(p.b), hashTree(p.a));
      assert.deepEqual(Object.keys(hashTree(p.a)), ['locked', 'locked/y', 'n', 'other']);
    });

    test('files deleted or changed during the transfer: no failed run, the next run picks the changes up', async () => {
      const p = newPair();
      writeTree(p.a, { 'zz-vanish': 'vanish v1', 'zz-change': 'change v1', keep: 'k' }, { mtime: T0 });
      assert.equal((await run(mode, p)).code, 0);
      writeTree(p.a, { 'big.bin': randomBytes(600_000), 'zz-vanish': 'vanish v2', 'zz-change': 'change v2' }, { mtime: T1 });
      const s = start(p.root, mode.args(p.a, p.b), { ...mode.env(), BANDWIDTH: '200' });
      let exited = false;
      void s.done.then(() => (exited = true));
      // Once big.bin is on its way the file list is fixed: change the files listed after it.
      const tmp = path.join(p.b, '.osync_workdir/tmp');
      await waitFor('the transfer to start', () => exited || (fs.existsSync(tmp) && fs.readdirSync(tmp).length > 0));
      assert.ok(!exited, 'the transfer ended too soon');
      fs.rmSync(path.join(p.a, 'zz-vanish'));
      writeTree(p.a, { 'zz-change': 'change v3, written while the run was copying' });
      const r = await s.done;
      assert.ok(r.code === 0 || r.code === 2, explain(r));
      assert.deepEqual(problems(r), []);
      if (r.code === 2) assert.match(r.log, /\(WARN\):Some files vanished on initiator replica while updating target replica; the next run picks them up\./);
      assert.equal(lockOf(p.a), null);

      const next = await run(mode, p);
      assert.equal(next.code, 0, explain(next));
      assert.deepEqual(hashTree(p.b), hashTree(p.a));
      assert.equal(read(path.join(p.b, 'zz-change')), 'change v3, written while the run was copying');
      assert.ok(!fs.existsSync(path.join(p.a, 'zz-vanish')), `the deletion made during the run was undone: ${read(path.join(p.a, 'zz-vanish'))}`);
      assert.ok(!fs.existsSync(path.join(p.b, 'zz-vanish')), 'the deletion made during the run reached the target');
      assert.equal(read(path.join(p.b, '.osync_workdir/deleted/zz-vanish')), 'vanish v1', "the target's copy went to its trash");
      assert.equal(fs.statSync(path.join(p.b, 'big.bin')).size, 600_000);
    });

    test('two runs started at the same instant: exactly one syncs, the other exits 1 and changes nothing', async () => {
      const p = newPair();
      writeTree(p.a, { big: Buffer.alloc(600_000, 7), small: 's' }, { mtime: T0 });
      const env = { BANDWIDTH: '300' };
      const [r1, r2] = await Promise.all([run(mode, p, [], env), run(mode, p, [], env)]);
      assert.deepEqual([r1.code, r2.code].sort(), [0, 1], `${explain(r1)}\n=====\n${explain(r2)}`);
      const [win, lose] = r1.code === 0 ? [r1, r2] : [r2, r1];
      assert.match(lose.log, new RegExp(`\\(CRITICAL\\):There is already a local instance \\[${win.pid}@${ID}\\] of osync running for this replica\\. Cannot start\\.`));
      assert.doesNotMatch(lose.log, /Starting synchronization task|Updating .* replica|Creating .* file list/);
      assert.match(win.log, /Finished synchronization task/);
      assert.deepEqual(hashTree(p.b), hashTree(p.a));
      assert.equal(lockOf(p.a), null);
      assert.equal(lockOf(p.b), null);
    });
  });
}

// Run as a test file: the local suite (the remote one lives in faults-remote.test.ts).
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  faultSuite(localMode);
}

export { localMode, remoteMode };
