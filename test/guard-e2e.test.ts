// The deletion guard, --json and pre-seeded replicas, end to end with real rsync:
// a refused run exits 3, says why in one CRITICAL line per reason, and leaves both
// replicas (state dir included) exactly as it found them, so the next run sees the
// same situation; --force lets it through with a warning.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explain, makeConf, quickSync, runOsync, type OsyncResult } from './support/osync.js';
import { startSmtp, type TestSmtp } from './support/smtp.js';
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

/** n files f0..f(n-1) (ten unless said), synced once so both replicas and the state hold them. */
async function syncedTen(env: Record<string, string> = {}, n = 10): Promise<{ a: string; b: string; root: string }> {
  const p = pair();
  const spec: Record<string, string> = {};
  for (let i = 0; i < n; i++) spec[`f${i}`] = `content ${i}`;
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

function assertRefused(r: OsyncResult, reasons: RegExp[], advice = /run once with --force/): void {
  assert.equal(r.code, 3, explain(r));
  const lines = criticals(r);
  assert.equal(lines.length, reasons.length + 1, explain(r));
  reasons.forEach((re, i) => assert.match(lines[i], re, explain(r)));
  // The last CRITICAL line says what happened and what to do.
  assert.match(lines[reasons.length], /^Run refused by the deletion guard \(exit code 3\): nothing was changed on either replica\. What to do: /);
  assert.match(lines[reasons.length], advice, explain(r));
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
    const { a, b } = await syncedTen({}, 30);
    for (let i = 0; i < 18; i++) fs.rmSync(path.join(a, `f${i}`));
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [/^Deletion guard: The plan would delete 18 of the 30 files on the target replica \(60%\), more than MAX_DELETE_PERCENT=50%\.$/], /see what it would delete with --dry; if that is intended, run once with --force/);
    assert.deepEqual(both(a, b), before);

    const json = await quickSync(a, b, ['--json', '--dry']);
    assert.equal(json.code, 3);
    assert.doesNotMatch(json.stdout, /TIME:/);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.exitCode, 3);
    assert.equal(doc.dry, true);
    assert.equal(doc.guard.ok, false);
    assert.deepEqual(doc.guard.reasons.map((x: { kind: string; side: string }) => `${x.kind}:${x.side}`), ['delete-percent:target']);
    assert.equal(doc.plan.length, 18);
    assert.deepEqual(doc.plan[0], { action: 'delete', path: 'f0', on: 'target', reason: 'deleted' });
    assert.deepEqual(doc.counts.target, { created: 0, updated: 0, deleted: 0 });
    assert.deepEqual(both(a, b), before);

    const allowed = await quickSync(a, b, [], { MAX_DELETE_PERCENT: '60' });
    assert.equal(allowed.code, 0, explain(allowed));
    assert.equal(Object.keys(readTree(b)).length, 12);
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
    assert.match(recorded, /^.+ on \/.*\nroot .*\/b\/\n$/);
    const firstLine = (t: string) => t.split('\n')[0];
    assert.equal(firstLine(fs.readFileSync(STATE(a, 'initiator-replica-id'), 'utf8')), firstLine(recorded), 'both temp dirs are on one filesystem');
    // Tests cannot mount: make the recorded identity say the root was on another mount.
    fs.writeFileSync(idFile, recorded.replace(/^.*\n/, '/dev/sdz9 on /mnt/usb-disk\n'));
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [/^Deletion guard: The target replica root is on \[.+ on \/.*\] but was on \[\/dev\/sdz9 on \/mnt\/usb-disk\] at the last run \(a different or unmounted filesystem\?\)\.$/], /check that both replicas are mounted and hold your files/);
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
    for (let i = 0; i < 20; i++) spec[`photos/p${i}.jpg`] = `photo ${i}`;
    writeTree(a, spec, { mtime: OLD });
    assert.equal((await quickSync(a, b)).code, 0);
    fs.renameSync(path.join(a, 'photos'), path.join(a, 'pictures'));
    const r = await quickSync(a, b, ['--json']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(JSON.parse(r.stdout).guard.moves, { initiator: 0, target: 20 });
    assert.deepEqual(readTree(b), readTree(a));
    assert.ok(fs.existsSync(path.join(b, '.osync_workdir/deleted/photos/p3.jpg')));

    // SYNC_TYPE=initiator2target: removing 15 of 21 files from the source would mirror the deletions.
    for (let i = 0; i < 15; i++) fs.rmSync(path.join(a, `pictures/p${i}.jpg`));
    const before = both(a, b);
    const m = await quickSync(a, b, ['--sync-type=initiator2target']);
    assertRefused(m, [/^Deletion guard: The plan would delete 15 of the 21 files on the target replica \(71\.4%\)/]);
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

// Small real-world setups osync.sh syncs: below DELETE_GUARD_MIN_FILES (10) deleted files
// on a replica, the percentage and emptied-replica rules do not refuse.
describe('deletion guard: small syncs go through (DELETE_GUARD_MIN_FILES)', () => {
  const deletedOn = (dir: string, rel: string) => fs.existsSync(path.join(dir, '.osync_workdir/deleted', rel));

  test('the one file of a fresh setup deleted: synced (100% of one file)', async () => {
    const { a, b } = pair();
    writeTree(a, { 'only.txt': 'x' }, { mtime: OLD });
    assert.equal((await quickSync(a, b)).code, 0);
    fs.rmSync(path.join(a, 'only.txt'));
    const r = await quickSync(a, b);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(b), {});
    assert.ok(deletedOn(b, 'only.txt'));
  });

  test('SKIP_DELETION setups: a deletion on the other side still propagates', async () => {
    // SKIP_DELETION=target: nothing is deleted on the target, a deletion made there reaches the initiator.
    const p1 = pair();
    writeTree(p1.a, { f: 'x' }, { mtime: OLD });
    assert.equal((await quickSync(p1.a, p1.b, [], { SKIP_DELETION: 'target' })).code, 0);
    fs.rmSync(path.join(p1.b, 'f'));
    const r1 = await quickSync(p1.a, p1.b, [], { SKIP_DELETION: 'target' });
    assert.equal(r1.code, 0, explain(r1));
    assert.deepEqual(readTree(p1.a), {});
    // SKIP_DELETION=initiator, the file deleted on the initiator: gone from the target too.
    const p2 = pair();
    writeTree(p2.a, { f: 'x' }, { mtime: OLD });
    assert.equal((await quickSync(p2.a, p2.b, ['--skip-deletion=initiator'])).code, 0);
    fs.rmSync(path.join(p2.a, 'f'));
    const r2 = await quickSync(p2.a, p2.b, ['--skip-deletion=initiator']);
    assert.equal(r2.code, 0, explain(r2));
    assert.deepEqual(readTree(p2.b), {});
  });

  test('a directory with a few files removed, and symlinks removed', async () => {
    const { a, b } = pair();
    writeTree(a, { 'd/1': '1', 'd/2': '2', 'd/3': '3', keep: 'k' }, { mtime: OLD });
    fs.symlinkSync('keep', path.join(a, 'link1'));
    fs.symlinkSync('keep', path.join(a, 'link2'));
    assert.equal((await quickSync(a, b)).code, 0);
    fs.rmSync(path.join(a, 'd'), { recursive: true });
    const r = await quickSync(a, b);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(Object.keys(readTree(b)).sort(), ['keep', 'link1', 'link2']);
    assert.ok(deletedOn(b, 'd/2'));
    // 2 of the 3 files and links left: the two symlinks.
    fs.rmSync(path.join(b, 'link1'));
    fs.rmSync(path.join(b, 'link2'));
    const l = await quickSync(a, b);
    assert.equal(l.code, 0, explain(l));
    assert.deepEqual(Object.keys(readTree(a)), ['keep']);
  });

  test('the first run of a one-way sync removes one stray file from the destination', async () => {
    const { a, b } = pair();
    writeTree(a, { f: 'x' }, { mtime: OLD });
    writeTree(b, { stray: 's' }, { mtime: OLD });
    const r = await quickSync(a, b, ['--sync-type=initiator2target']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(b), { f: 'x' });
    assert.equal(fs.readFileSync(path.join(b, '.osync_workdir/backup/stray'), 'utf8'), 's');
  });

  test('--initialize, then a deletion', async () => {
    const { a, b } = pair();
    writeTree(a, { f: 'x' }, { mtime: OLD });
    writeTree(b, { f: 'x' }, { mtime: OLD });
    const init = await quickSync(a, b, ['--initialize']);
    assert.equal(init.code, 0, explain(init));
    fs.rmSync(path.join(a, 'f'));
    const r = await quickSync(a, b);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(b), {});
    assert.ok(deletedOn(b, 'f'));
  });

  test('an accident at scale is still refused: every file of a replica of dozens gone', async () => {
    const { a, b } = await syncedTen({}, 36);
    for (const n of fs.readdirSync(b)) if (n !== '.osync_workdir') fs.rmSync(path.join(b, n), { recursive: true });
    const before = both(a, b);
    const r = await quickSync(a, b);
    assertRefused(r, [/^Deletion guard: The target replica holds no files but held 36 at the last run \(an unmounted or emptied replica\?\)/, /^Deletion guard: The plan would delete 36 of the 36 files on the initiator replica/], /check that both replicas are mounted and hold your files/);
    assert.deepEqual(both(a, b), before);
    // A lower floor is a setting: DELETE_GUARD_MIN_FILES=1 refuses the one-file deletion.
    const small = pair();
    writeTree(small.a, { f: 'x' }, { mtime: OLD });
    assert.equal((await quickSync(small.a, small.b)).code, 0);
    fs.rmSync(path.join(small.a, 'f'));
    const strict = await quickSync(small.a, small.b, [], { DELETE_GUARD_MIN_FILES: '1' });
    assert.equal(strict.code, 3, explain(strict));
  });

  test('a target path changed in the config is named as such, not guessed to be an unmounted disk', async () => {
    const { a, b, root } = await syncedTen({}, 12);
    const moved = path.join(root, 'new-b');
    fs.mkdirSync(moved);
    const before = snapshot(a);
    const r = await quickSync(a, moved);
    assertRefused(
      r,
      [
        new RegExp(`^Deletion guard: The target replica \\[${moved}/\\] holds no files, but this task's target replica was \\[${b}/\\] at the last run and held 12 files: its path was changed in the configuration, and syncing would delete 12 files on the initiator replica\\.$`),
        /^Deletion guard: The plan would delete 12 of the 12 files on the initiator replica/,
      ],
      /run it under a new INSTANCE_ID/,
    );
    assert.doesNotMatch(r.log, /unmounted/);
    assert.deepEqual(snapshot(a), before);
    assert.deepEqual(readTree(moved), {});
    // As advised: under a new INSTANCE_ID the replicas are merged as new.
    const fresh = await quickSync(a, moved, ['--instance-id=moved_task']);
    assert.equal(fresh.code, 0, explain(fresh));
    assert.equal(Object.keys(readTree(moved)).length, 12);
  });
});

describe('a refused run sends the error alert mail', () => {
  let smtp: TestSmtp;
  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp?.stop();
  });

  test('exit 3 mails "Error alert" with the reasons and what to do', async () => {
    const { a, b, root } = pair();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 20; i++) spec[`f${i}`] = `content ${i}`;
    writeTree(a, spec, { mtime: OLD });
    const conf = makeConf(root, {
      INSTANCE_ID: 'guard_mail',
      INITIATOR_SYNC_DIR: a,
      TARGET_SYNC_DIR: b,
      DESTINATION_MAILS: 'ops@example.org',
      SENDER_MAIL: 'osync@example.com',
      SMTP_SERVER: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      MAIL_TRANSPORT: 'smtp',
    });
    assert.equal((await runOsync([conf])).code, 0);
    for (let i = 0; i < 15; i++) fs.rmSync(path.join(b, `f${i}`));
    const r = await runOsync([conf]);
    assert.equal(r.code, 3, explain(r));
    const [mail] = await smtp.waitFor(1);
    assert.equal(mail.subject, 'Finished run - Error alert for guard_mail');
    assert.match(mail.body, /\(CRITICAL\):Deletion guard: The plan would delete 15 of the 20 files on the initiator replica/);
    assert.match(mail.body, /\(CRITICAL\):Run refused by the deletion guard \(exit code 3\): nothing was changed on either replica\. What to do: see what it would delete with --dry/);
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

  test('one file deleted on a remote target of two: synced', async () => {
    const { a, b } = pair();
    writeTree(a, { f: 'x', g: 'y' }, { mtime: OLD });
    const remote = () =>
      runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--rsakey=${keyPath(sshd, 'root')}`], { SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' ') });
    assert.equal((await remote()).code, 0);
    fs.rmSync(path.join(b, 'f'));
    fs.rmSync(path.join(b, 'g'));
    const r = await remote();
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(a), {});
  });
});
