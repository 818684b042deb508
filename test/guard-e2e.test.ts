// The deletion guard, --json and pre-seeded replicas, end to end with real rsync:
// a refused run exits 3, says why in one CRITICAL line per reason, and leaves both
// replicas (state dir included) exactly as it found them, so the next run sees the
// same situation; --force lets it through with a warning.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explain, quickSync, runOsync, type OsyncResult } from './support/osync.js';
import { keyPath, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { readTree, replicaPair, rmTree, writeTree } from './support/tree.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmTree(d);
});

const OLD = Math.floor(Date.now() / 1000) - 3600;
const STATE = (a: string, what: string) => path.join(a, '.osync_workdir/state', `${what}-quicksync_task`);

function pair(): { a: string; b: string; root: string } {
  const p = replicaPair('osync-ts-guard-');
  dirs.push(p.root);
  return p;
}

/** Ten files f0..f9, synced once so both replicas and the state hold them. */
async function syncedTen(env: Record<string, string> = {}): Promise<{ a: string; b: string; root: string }> {
  const p = pair();
  const spec: Record<string, string> = {};
  for (let i = 0; i < 10; i++) spec[`f${i}`] = `content ${i}`;
  writeTree(p.a, spec, { mtime: OLD });
  const r = await quickSync(p.a, p.b, [], env);
  assert.equal(r.code, 0, explain(r));
  return p;
}

/** Every path below `dir` (the work dir included): content, mode and, for files, mtime (ms). */
function snapshot(dir: string): Record<string, string> | null {
  if (!fs.existsSync(dir)) return null;
  const tree = readTree(dir, { skipWorkdir: false, modes: true });
  for (const k of Object.keys(tree)) {
    const st = fs.lstatSync(path.join(dir, k));
    if (st.isFile()) tree[k] += ` @${Math.floor(st.mtimeMs)}`;
  }
  return tree;
}

function both(a: string, b: string) {
  return { a: snapshot(a), b: snapshot(b) };
}

function criticals(r: OsyncResult): string[] {
  return r.log.split('\n').filter((l) => l.includes('(CRITICAL):')).map((l) => l.replace(/^TIME: \d+ - \(CRITICAL\):/, ''));
}

function assertRefused(r: OsyncResult, reasons: RegExp[]): void {
  assert.equal(r.code, 3, explain(r));
  const lines = criticals(r);
  assert.equal(lines.length, reasons.length, explain(r));
  reasons.forEach((re, i) => assert.match(lines[i], re, explain(r)));
  assert.match(r.log, /Run refused by the deletion guard \(exit code 3\): nothing was changed on either replica\./);
  assert.doesNotMatch(r.log, /Finished synchronization task/);
}

describe('deletion guard end to end', () => {
  test('an emptied target (rm -rf target/*) is refused, twice, with nothing changed; --force goes through', async () => {
    const { a, b } = await syncedTen();
    for (const n of fs.readdirSync(b)) if (n !== '.osync_workdir') fs.rmSync(path.join(b, n), { recursive: true });
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [
      /^Deletion guard: The target replica holds no files but held 10 at the last run \(an unmounted or emptied replica\?\); its deletion would be propagated\.$/,
      /^Deletion guard: The plan would delete 10 of the 10 files on the initiator replica \(100%\), more than MAX_DELETE_PERCENT=50%\.$/,
    ]);
    assert.match(r.stderr, /Deletion guard: The target replica holds no files/);
    assert.deepEqual(both(a, b), before);
    // The state was not advanced: the next run sees the same situation.
    const again = await quickSync(a, b);
    assert.equal(again.code, 3, explain(again));
    assert.deepEqual(both(a, b), before);

    const forced = await quickSync(a, b, ['--force']);
    assert.equal(forced.code, 2, explain(forced));
    assert.match(forced.log, /\(WARN\):Deletion guard overridden by --force: The target replica holds no files but held 10/);
    assert.deepEqual(readTree(a), {});
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/deleted/f3'), 'utf8'), 'content 3');
  });

  test('a removed target root is not recreated by CREATE_DIRS; --force recreates it', async () => {
    const { a, b } = await syncedTen({ CREATE_DIRS: 'true' });
    rmTree(b);
    const before = both(a, b);
    const r = await quickSync(a, b, [], { CREATE_DIRS: 'true' });
    assertRefused(r, [/^Deletion guard: The target replica root \[.*\/b\/\] does not exist but held 10 entries at the last run \(an unmounted disk\?\); it is not recreated empty\.$/]);
    assert.equal(fs.existsSync(b), false);
    assert.deepEqual(both(a, b), before);
    // Without CREATE_DIRS osync's own error stays (exit 1).
    const plain = await quickSync(a, b);
    assert.equal(plain.code, 1, explain(plain));
    assert.match(plain.log, /does not exist or is not writable and CREATE_DIRS is not allowed/);

    const forced = await quickSync(a, b, ['--force'], { CREATE_DIRS: 'true' });
    assert.equal(forced.code, 2, explain(forced));
    assert.ok(fs.existsSync(b));
    assert.match(forced.log, /\(WARN\):Deletion guard overridden by --force: The target replica holds no files but held 10/);
  });

  test('60% deletions are refused; 50% pass; MAX_DELETE_PERCENT and --force let more through', async () => {
    const { a, b } = await syncedTen();
    for (let i = 0; i < 6; i++) fs.rmSync(path.join(a, `f${i}`));
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [/^Deletion guard: The plan would delete 6 of the 10 files on the target replica \(60%\), more than MAX_DELETE_PERCENT=50%\.$/]);
    assert.deepEqual(both(a, b), before);

    const json = await quickSync(a, b, ['--json', '--dry']);
    assert.equal(json.code, 3);
    assert.doesNotMatch(json.stdout, /TIME:/);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.exitCode, 3);
    assert.equal(doc.dry, true);
    assert.equal(doc.guard.ok, false);
    assert.deepEqual(doc.guard.reasons.map((x: { kind: string; side: string }) => `${x.kind}:${x.side}`), ['delete-percent:target']);
    assert.equal(doc.plan.length, 6);
    assert.deepEqual(doc.plan[0], { action: 'delete', path: 'f0', on: 'target', reason: 'deleted' });
    assert.deepEqual(doc.counts.target, { created: 0, updated: 0, deleted: 0 });
    assert.deepEqual(both(a, b), before);

    const allowed = await quickSync(a, b, [], { MAX_DELETE_PERCENT: '60' });
    assert.equal(allowed.code, 0, explain(allowed));
    assert.deepEqual(Object.keys(readTree(b)), ['f6', 'f7', 'f8', 'f9']);
  });

  test('MAX_DELETE_COUNT and --force on a deletion count', async () => {
    const { a, b } = await syncedTen();
    for (let i = 0; i < 3; i++) fs.rmSync(path.join(b, `f${i}`));
    const before = both(a, b);
    const r = await quickSync(a, b, [], { MAX_DELETE_COUNT: '2' });
    assertRefused(r, [/^Deletion guard: The plan would delete 3 files on the initiator replica, more than MAX_DELETE_COUNT=2\.$/]);
    assert.deepEqual(both(a, b), before);
    const forced = await quickSync(a, b, ['--force'], { MAX_DELETE_COUNT: '2' });
    assert.equal(forced.code, 2, explain(forced));
    assert.match(forced.log, /\(WARN\):Deletion guard overridden by --force: The plan would delete 3 files/);
    assert.equal(Object.keys(readTree(a)).length, 7);
  });

  test('a replica root on another filesystem than recorded is refused; --force records the new one', async () => {
    const { a, b } = await syncedTen();
    const idFile = STATE(a, 'target-replica-id');
    const recorded = fs.readFileSync(idFile, 'utf8');
    assert.match(recorded, /^.+ on \/.*\n$/);
    assert.equal(fs.readFileSync(STATE(a, 'initiator-replica-id'), 'utf8'), recorded, 'both temp dirs are on one filesystem');
    // Tests cannot mount: make the recorded identity say the root was on another mount.
    fs.writeFileSync(idFile, '/dev/sdz9 on /mnt/usb-disk\n');
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [/^Deletion guard: The target replica root is on \[.+ on \/.*\] but was on \[\/dev\/sdz9 on \/mnt\/usb-disk\] at the last run \(a different or unmounted filesystem\?\)\.$/]);
    assert.deepEqual(both(a, b), before);
    const forced = await quickSync(a, b, ['--force']);
    assert.equal(forced.code, 2, explain(forced));
    assert.equal(fs.readFileSync(idFile, 'utf8'), recorded);
    const next = await quickSync(a, b);
    assert.equal(next.code, 0, explain(next));
  });

  test('every file changed at once (a clock jump) is refused', async () => {
    const { a, b } = await syncedTen();
    for (let i = 0; i < 10; i++) fs.utimesSync(path.join(b, `f${i}`), OLD + 7200, OLD + 7200);
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [/^Deletion guard: Every one of the 10 files the target replica held at the last run has changed \(10 modified, 0 deleted, none unchanged\)/]);
    assert.deepEqual(both(a, b), before);
  });

  test('a renamed directory is a move, not deletions; a one-way mirror is guarded too', async () => {
    const { a, b } = pair();
    const spec: Record<string, string> = { 'top': 'x' };
    for (let i = 0; i < 8; i++) spec[`photos/p${i}.jpg`] = `photo ${i}`;
    writeTree(a, spec, { mtime: OLD });
    assert.equal((await quickSync(a, b)).code, 0);
    fs.renameSync(path.join(a, 'photos'), path.join(a, 'pictures'));
    const r = await quickSync(a, b, ['--json']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(JSON.parse(r.stdout).guard.moves, { initiator: 0, target: 8 });
    assert.deepEqual(readTree(b), readTree(a));
    assert.ok(fs.existsSync(path.join(b, '.osync_workdir/deleted/photos/p3.jpg')));

    // SYNC_TYPE=initiator2target: removing 7 of 9 files from the source would mirror the deletions.
    for (let i = 0; i < 7; i++) fs.rmSync(path.join(a, `pictures/p${i}.jpg`));
    const before = both(a, b);
    const m = await quickSync(a, b, ['--sync-type=initiator2target']);
    assertRefused(m, [/^Deletion guard: The plan would delete 7 of the 9 files on the target replica \(77\.8%\)/]);
    assert.deepEqual(both(a, b), before);
  });

  test('--json: one document on stdout, screen lines on stderr, UTF-8 paths, counts', async () => {
    const { a, b } = pair();
    writeTree(a, { 'ünïcödé ✓.txt': 'u', 'd/x': 'x' }, { mtime: OLD });
    writeTree(b, { 'from-b': 'b' }, { mtime: OLD });
    const dry = await quickSync(a, b, ['--json', '--dry']);
    assert.equal(dry.code, 0, explain(dry));
    const plan = JSON.parse(dry.stdout);
    assert.match(dry.stderr, /Dryrun: would copy \[ünïcödé ✓\.txt\] initiator → target \(new\)/);
    const r = await quickSync(a, b, ['--json', '--summary']);
    assert.equal(r.code, 0, explain(r));
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.instanceId, 'quicksync_task');
    assert.equal(doc.dry, false);
    assert.equal(doc.exitCode, 0);
    assert.deepEqual(doc.plan, [
      { action: 'copy', path: 'd', from: 'initiator', to: 'target', reason: 'new' },
      { action: 'copy', path: 'd/x', from: 'initiator', to: 'target', reason: 'new' },
      { action: 'copy', path: 'from-b', from: 'target', to: 'initiator', reason: 'new' },
      { action: 'copy', path: 'ünïcödé ✓.txt', from: 'initiator', to: 'target', reason: 'new' },
    ]);
    // The dry run showed the plan the real run carried out.
    assert.deepEqual(plan.plan, doc.plan);
    assert.deepEqual(doc.counts, { initiator: { created: 1, updated: 0, deleted: 0 }, target: { created: 3, updated: 0, deleted: 0 } });
    assert.deepEqual(doc.conflicts, []);
    assert.equal(doc.guard.ok, true);
    assert.deepEqual(doc.guard.reasons, []);
    assert.match(r.stderr, /Target has 3 updates\./);
    assert.match(r.log, /Finished synchronization task/);
  });
});

describe('pre-seeded replicas (first run on trees copied with rsync -a)', () => {
  function seeded(): { a: string; b: string } {
    const p = pair();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 12; i++) spec[`dir${i % 3}/file${i}.txt`] = `data ${i}`;
    writeTree(p.a, spec, { mtime: OLD });
    const cp = spawnSync('rsync', ['-a', `${p.a}/`, `${p.b}/`]);
    assert.equal(cp.status, 0, String(cp.stderr));
    return p;
  }
  const inodes = (dir: string) => Object.fromEntries(Object.keys(readTree(dir)).map((k) => [k, fs.lstatSync(path.join(dir, k)).ino]));

  test('identical trees: nothing transferred, nothing deleted, state initialised', async () => {
    const { a, b } = seeded();
    const ino = { a: inodes(a), b: inodes(b) };
    const r = await quickSync(a, b, ['--summary', '--verbose']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\.\nInitiator has 0 deletions\.\nTarget has 0 deletions\./);
    assert.doesNotMatch(r.stdout, /^(UPDATE|DELETE) /m);
    assert.deepEqual({ a: inodes(a), b: inodes(b) }, ino, 'no file was rewritten');
    assert.ok(!fs.existsSync(path.join(a, '.osync_workdir/deleted')) && !fs.existsSync(path.join(b, '.osync_workdir/deleted')));
    const list = fs.readFileSync(STATE(a, 'target-tree-after'), 'utf8');
    assert.equal(list.split('\n').filter(Boolean).length, 15);
    assert.equal(fs.readFileSync(STATE(a, 'initiator-tree-after'), 'utf8'), list);
  });

  test('near-identical trees: only the differing files move', async () => {
    const { a, b } = seeded();
    writeTree(a, { 'dir0/file0.txt': 'edited on a' }, { mtime: OLD + 60 });
    writeTree(b, { 'dir1/file1.txt': 'edited on b', 'only-b': 'new on b' }, { mtime: OLD + 60 });
    const ino = { a: inodes(a), b: inodes(b) };
    const r = await quickSync(a, b, ['--summary']);
    assert.equal(r.code, 0, explain(r));
    const updates = r.stdout.split('\n').filter((l) => /^(UPDATE|DELETE) /.test(l)).map((l) => l.replace(/ \/.*\/(a|b)\//, ' $1:'));
    assert.deepEqual(updates.sort(), ['UPDATE << a:dir1/file1.txt', 'UPDATE << a:only-b', 'UPDATE >> b:dir0/file0.txt']);
    assert.deepEqual(readTree(a), readTree(b));
    const after = { a: inodes(a), b: inodes(b) };
    for (const k of Object.keys(ino.a)) if (!['dir0/file0.txt', 'dir1/file1.txt'].includes(k)) assert.equal(after.a[k], ino.a[k], k);
    for (const k of Object.keys(ino.b)) if (!['dir0/file0.txt', 'dir1/file1.txt'].includes(k)) assert.equal(after.b[k], ino.b[k], k);
  });

  test('CHECKSUM=true: same size and mtime but different content, the prevalent side wins', async () => {
    for (const prevalence of ['initiator', 'target'] as const) {
      const { a, b } = seeded();
      writeTree(a, { 'dir2/file2.txt': 'AAAAAA' }, { mtime: OLD });
      writeTree(b, { 'dir2/file2.txt': 'BBBBBB' }, { mtime: OLD });
      const r = await quickSync(a, b, [], { CHECKSUM: 'true', CONFLICT_PREVALANCE: prevalence });
      assert.equal(r.code, 0, explain(r));
      const want = prevalence === 'initiator' ? 'AAAAAA' : 'BBBBBB';
      assert.equal(fs.readFileSync(path.join(a, 'dir2/file2.txt'), 'utf8'), want, prevalence);
      assert.equal(fs.readFileSync(path.join(b, 'dir2/file2.txt'), 'utf8'), want, prevalence);
      assert.deepEqual(readTree(a), readTree(b));
    }
  });
});

describe('deletion guard with a remote target', () => {
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });

  test('an emptied remote target is refused with nothing changed; --force goes through', async () => {
    const { a, b } = pair();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 10; i++) spec[`f${i}`] = `content ${i}`;
    writeTree(a, spec, { mtime: OLD });
    const remote = (args: string[] = []) =>
      runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--rsakey=${keyPath(sshd, 'root')}`, ...args], { SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' ') });
    const first = await remote();
    assert.equal(first.code, 0, explain(first));
    assert.match(fs.readFileSync(STATE(a, 'target-replica-id'), 'utf8'), / on \//);
    for (const n of fs.readdirSync(b)) if (n !== '.osync_workdir') fs.rmSync(path.join(b, n), { recursive: true });
    const before = both(a, b);
    const r = await remote();
    assertRefused(r, [/^Deletion guard: The target replica holds no files but held 10 at the last run/, /^Deletion guard: The plan would delete 10 of the 10 files on the initiator replica \(100%\)/]);
    assert.deepEqual(both(a, b), before);
    const forced = await remote(['--force']);
    assert.equal(forced.code, 2, explain(forced));
    assert.deepEqual(readTree(a), {});
  });
});
