// End-to-end: the local two-way sync through the real command line and real rsync,
// checked by what a user sees: files, contents, modes, trash/backup folders, state
// files, the --summary block and exit codes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { explain, makeConf, quickSync, runOsync, type OsyncResult } from '../support/osync.js';
import { modeOf, readTree, scenarioPairs, secondsAgo, setMode, setMtime, type ScenarioPair, writeTree } from '../support/tree.js';

const ID = 'quicksync_task';
const T0 = secondsAgo(100_000); // the "old" state of every tree
const T1 = secondsAgo(5_000); // a later edit
const T2 = secondsAgo(2_000); // an even later edit

const pair = scenarioPairs('osync-ts-sync-');
type Pair = ScenarioPair;

function ok(r: OsyncResult): OsyncResult {
  assert.equal(r.code, 0, explain(r));
  assert.doesNotMatch(r.log, /\((WARN|ERROR|CRITICAL)\):/, explain(r));
  return r;
}

async function sync(p: Pair, args: string[] = [], env: Record<string, string> = {}): Promise<OsyncResult> {
  // Propagation is tested here; the deletion guard (guard-e2e.test.ts) is relaxed.
  return ok(await quickSync(p.a, p.b, args, { MAX_DELETE_PERCENT: '100', ...env }));
}

const read = (f: string) => fs.readFileSync(f, 'utf8');
const exists = (f: string) => {
  try {
    fs.lstatSync(f);
    return true;
  } catch {
    return false;
  }
};
const workTree = (replica: string, sub: 'deleted' | 'backup') => {
  const d = path.join(replica, '.osync_workdir', sub);
  return exists(d) ? readTree(d, { skipWorkdir: false }) : {};
};
const summaryBlock = (r: OsyncResult) => r.stdout.split('\n').filter((l) => /^(UPDATE|DELETE) /.test(l) || / has \d+ (updates|deletions)\.$/.test(l));

/** Everything in one sync pass: edits on both sides after a first sync. */
/** The scenarios, run against a local target or (remote) the same paths over ssh. */
export function syncScenarios(kind: 'local' | 'remote'): void {
  describe(`${kind} target: two-way sync`, { concurrency: 2 }, () => {
    test('first run: union of both replicas, exact osync state files, exit 0, second run changes nothing', async () => {
      const p = pair();
      writeTree(p.a, { 'd1/sub/f2': 'f2', f1: 'one', Z: 'upper', link1: { symlink: 'f1' } }, { mtime: T0 });
      writeTree(p.b, { g1: 'gee', _u: 'under' }, { mtime: T0 });
      const r = await sync(p);
      const want = { Z: 'upper', _u: 'under', d1: '<dir>', 'd1/sub': '<dir>', 'd1/sub/f2': 'f2', f1: 'one', g1: 'gee', link1: '-> f1' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      assert.deepEqual(workTree(p.a, 'backup'), {}, 'nothing overwritten, nothing backed up');
      assert.deepEqual(workTree(p.b, 'backup'), {});
      assert.match(r.log, /TIME: \d+ - osync finished\./);

      // osync's format: sorted bytewise, one rendered path per line, no ".", no trailing slash.
      const list = 'Z\n_u\nd1\nd1/sub\nd1/sub/f2\nf1\ng1\nlink1\n';
      assert.equal(fs.readFileSync(path.join(p.state, `initiator-tree-after-${ID}`), 'latin1'), list);
      assert.equal(fs.readFileSync(path.join(p.state, `target-tree-after-${ID}`), 'latin1'), list);
      assert.equal(read(path.join(p.state, `initiator-last-action-${ID}`)).trim(), 'synced');
      assert.equal(read(path.join(p.state, `target-last-action-${ID}`)).trim(), 'synced');
      assert.equal(read(path.join(p.state, `resume-count-${ID}`)).trim(), '0');
      assert.equal(read(path.join(p.state, `initiator-deleted-list-${ID}`)), '');
      assert.equal(read(path.join(p.state, `target-deleted-list-${ID}`)), '');
      assert.equal(exists(path.join(p.a, '.osync_workdir', 'lock')), false, 'lock released');
      assert.equal(exists(path.join(p.b, '.osync_workdir', 'lock')), false, 'lock released');

      const mtimes = () => Object.keys(want).map((k) => fs.lstatSync(path.join(p.b, k)).mtimeMs);
      const before = mtimes();
      const r2 = await sync(p, ['--summary']);
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      assert.deepEqual(mtimes(), before, 'second run touched nothing');
      assert.deepEqual(summaryBlock(r2), ['Initiator has 0 updates.', 'Target has 0 updates.', 'Initiator has 0 deletions.', 'Target has 0 deletions.']);
      assert.deepEqual(workTree(p.b, 'deleted'), {});
      assert.deepEqual(workTree(p.a, 'deleted'), {});
    });

    test('change matrix: new/modified/deleted/unchanged on each side; summary; soft deletes; backups; deleted lists', async () => {
      const p = pair();
      const base = { u: 'same', am: 'old-am', bm: 'old-bm', ad: 'del-on-a', bd: 'del-on-b', 'sub/u2': 'same2', 'sub/am2': 'old-am2' };
      writeTree(p.a, base, { mtime: T0 });
      writeTree(p.b, base, { mtime: T0 });
      await sync(p);

      writeTree(p.a, { an: 'new-on-a', am: 'new-am', 'sub/am2': 'new-am2', 'sub/an2': 'new2' }, { mtime: T1 });
      writeTree(p.b, { bn: 'new-on-b', bm: 'new-bm' }, { mtime: T1 });
      fs.rmSync(path.join(p.a, 'ad'));
      fs.rmSync(path.join(p.b, 'bd'));
      const r = await sync(p, ['--summary']);

      const want = { am: 'new-am', an: 'new-on-a', bm: 'new-bm', bn: 'new-on-b', sub: '<dir>', 'sub/am2': 'new-am2', 'sub/an2': 'new2', 'sub/u2': 'same2', u: 'same' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      // Deletions are soft: the item is in the other replica's trash.
      assert.deepEqual(workTree(p.b, 'deleted'), { ad: 'del-on-a' });
      assert.deepEqual(workTree(p.a, 'deleted'), { bd: 'del-on-b' });
      // Every overwritten file is backed up on the side that was overwritten (osync §5.5).
      assert.deepEqual(workTree(p.b, 'backup'), { am: 'old-am', sub: '<dir>', 'sub/am2': 'old-am2' });
      assert.deepEqual(workTree(p.a, 'backup'), { bm: 'old-bm' });
      assert.equal(read(path.join(p.state, `initiator-deleted-list-${ID}`)), 'ad\n');
      assert.equal(read(path.join(p.state, `target-deleted-list-${ID}`)), 'bd\n');

      const lines = summaryBlock(r);
      for (const l of [
        `UPDATE >> ${p.b}/am`,
        `UPDATE >> ${p.b}/an`,
        `UPDATE >> ${p.b}/sub/am2`,
        `UPDATE >> ${p.b}/sub/an2`,
        `UPDATE << ${p.a}/bm`,
        `UPDATE << ${p.a}/bn`,
        `DELETE >> ${p.b}/ad`,
        `DELETE << ${p.a}/bd`,
        'Initiator has 2 updates.',
        'Target has 4 updates.',
        'Initiator has 1 deletions.',
        'Target has 1 deletions.',
      ]) {
        assert.ok(lines.includes(l), `summary line [${l}] missing in:\n${lines.join('\n')}`);
      }
      assert.ok(!lines.some((l) => l.endsWith('/u') || l.endsWith('/sub/u2')), 'unchanged files are not reported');
      assert.ok(r.stdout.includes('File transfers and simple deletions: INITIATOR << >> TARGET'));
      assert.ok(r.stdout.includes('File deletions: INITIATOR << >> TARGET'));

      const r2 = await sync(p, ['--summary']);
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      assert.deepEqual(summaryBlock(r2), ['Initiator has 0 updates.', 'Target has 0 updates.', 'Initiator has 0 deletions.', 'Target has 0 deletions.']);
    });

    test('conflicts: newer mtime wins, loser in <loser>/.osync_workdir/backup/<path>', async () => {
      const p = pair();
      writeTree(p.a, { 'c/x': 'base-x', y: 'base-y' }, { mtime: T0 });
      writeTree(p.b, { 'c/x': 'base-x', y: 'base-y' }, { mtime: T0 });
      await sync(p);
      writeTree(p.a, { 'c/x': { content: 'a-newer', mtime: T2 }, y: { content: 'a-older', mtime: T1 } });
      writeTree(p.b, { 'c/x': { content: 'b-older', mtime: T1 }, y: { content: 'b-newer', mtime: T2 } });
      await sync(p);
      assert.equal(read(path.join(p.a, 'c/x')), 'a-newer');
      assert.equal(read(path.join(p.b, 'c/x')), 'a-newer');
      assert.equal(read(path.join(p.a, 'y')), 'b-newer');
      assert.equal(read(path.join(p.b, 'y')), 'b-newer');
      assert.equal(read(path.join(p.b, '.osync_workdir/backup/c/x')), 'b-older');
      assert.equal(read(path.join(p.a, '.osync_workdir/backup/y')), 'a-older');
    });

    for (const prevalence of ['', 'initiator', 'target'] as const) {
      test(`conflicts: equal mtime, different size → CONFLICT_PREVALANCE=${prevalence || '(unset)'} wins`, async () => {
        const p = pair();
        writeTree(p.a, { f: 'base' }, { mtime: T0 });
        writeTree(p.b, { f: 'base' }, { mtime: T0 });
        await sync(p);
        writeTree(p.a, { f: 'initiator-version' }, { mtime: T1 });
        writeTree(p.b, { f: 'target-v' }, { mtime: T1 });
        await sync(p, [], prevalence ? { CONFLICT_PREVALANCE: prevalence } : {});
        const [win, lose, loser] = prevalence === 'target' ? ['target-v', 'initiator-version', p.a] : ['initiator-version', 'target-v', p.b];
        assert.equal(read(path.join(p.a, 'f')), win);
        assert.equal(read(path.join(p.b, 'f')), win);
        assert.equal(read(path.join(loser, '.osync_workdir/backup/f')), lose);
      });
    }

    test('CONFLICT_BACKUP_MULTIPLE=true keeps one backup per run named <name>.YYYY.MM.DD-HH.MM.SS; without it earlier versions are still kept', async () => {
      const p = pair();
      const q = pair();
      for (const x of [p, q]) {
        writeTree(x.a, { 'd/f': 'v0' }, { mtime: T0 });
        writeTree(x.b, { 'd/f': 'v0' }, { mtime: T0 });
      }
      await Promise.all([sync(p, [], { CONFLICT_BACKUP_MULTIPLE: 'true' }), sync(q)]);
      writeTree(p.a, { 'd/f': 'v1' }, { mtime: T1 });
      writeTree(q.a, { 'd/f': 'v1' }, { mtime: T1 });
      await Promise.all([sync(p, [], { CONFLICT_BACKUP_MULTIPLE: 'true' }), sync(q)]);
      await new Promise((res) => setTimeout(res, 1100)); // next run starts in another second
      writeTree(p.a, { 'd/f': 'v2' }, { mtime: T2 });
      writeTree(q.a, { 'd/f': 'v2' }, { mtime: T2 });
      await Promise.all([sync(p, [], { CONFLICT_BACKUP_MULTIPLE: 'true' }), sync(q)]);

      const names = fs.readdirSync(path.join(p.b, '.osync_workdir/backup/d')).sort();
      assert.equal(names.length, 2, names.join(', '));
      for (const n of names) assert.match(n, /^f\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d$/);
      assert.deepEqual(names.map((n) => read(path.join(p.b, '.osync_workdir/backup/d', n))), ['v0', 'v1']);
      // The suffix is the run's start time (local time), within the last minute.
      const m = /^f\.(\d{4})\.(\d\d)\.(\d\d)-(\d\d)\.(\d\d)\.(\d\d)$/.exec(names[1]!)!;
      const when = new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!).getTime();
      assert.ok(Math.abs(Date.now() - when) < 60_000, `suffix ${names[1]} is not the run time`);

      // Without it, the newest overwritten version has the plain name and an earlier one is
      // kept under its own mtime (osync replaced it: osync-ts never loses a version).
      const single = workTree(q.b, 'backup');
      assert.equal(single['d/f'], 'v1', 'the last overwritten version keeps the plain name');
      const older = Object.keys(single).filter((k) => /^d\/f\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d$/.test(k));
      assert.deepEqual(older.map((k) => single[k]), ['v0'], JSON.stringify(single));
    });

    test('delete on one side + modify on the other → kept and copied back (osync-ts keeps data)', async () => {
      const p = pair();
      writeTree(p.a, { f: 'base', 'd/g': 'base-g' }, { mtime: T0 });
      writeTree(p.b, { f: 'base', 'd/g': 'base-g' }, { mtime: T0 });
      await sync(p);
      fs.rmSync(path.join(p.a, 'f'));
      fs.rmSync(path.join(p.a, 'd'), { recursive: true });
      writeTree(p.b, { f: 'edited-on-b', 'd/g': 'edited-g' }, { mtime: T1 });
      const r = await sync(p);
      assert.deepEqual(readTree(p.a), { d: '<dir>', 'd/g': 'edited-g', f: 'edited-on-b' });
      assert.deepEqual(readTree(p.b), { d: '<dir>', 'd/g': 'edited-g', f: 'edited-on-b' });
      assert.deepEqual(workTree(p.b, 'deleted'), {}, 'nothing of the modified side went to the trash');
      assert.match(r.log, /Kept \[f\]/);
      // And it stays: the next run neither deletes nor changes it.
      await sync(p);
      assert.deepEqual(readTree(p.a), { d: '<dir>', 'd/g': 'edited-g', f: 'edited-on-b' });
      assert.deepEqual(readTree(p.b), { d: '<dir>', 'd/g': 'edited-g', f: 'edited-on-b' });
    });

    test('deleted dirs with subtrees go whole into <other>/.osync_workdir/deleted/, deleted list collapsed', async () => {
      const p = pair();
      const t = { 'dir1/sub/x': 'x', 'dir1/y': 'y', 'emptydir/': null, plain: 'p', keep: 'k', 'sp ace ': 'trailing' };
      // (emptydir's trash copy is checked in its own test below)
      writeTree(p.a, t, { mtime: T0 });
      writeTree(p.b, t, { mtime: T0 });
      await sync(p);
      for (const n of ['dir1', 'emptydir', 'plain', 'sp ace ']) fs.rmSync(path.join(p.a, n), { recursive: true });
      const r = await sync(p, ['--summary']);
      assert.deepEqual(readTree(p.b), { keep: 'k' });
      assert.deepEqual(readTree(p.a), { keep: 'k' });
      assert.deepEqual(workTree(p.b, 'deleted'), {
        dir1: '<dir>',
        'dir1/sub': '<dir>',
        'dir1/sub/x': 'x',
        'dir1/y': 'y',
        ...(exists(path.join(p.b, '.osync_workdir/deleted/emptydir')) ? { emptydir: '<dir>' } : {}),
        plain: 'p',
        'sp ace ': 'trailing',
      });
      assert.equal(read(path.join(p.state, `initiator-deleted-list-${ID}`)), 'dir1\nemptydir\nplain\nsp ace \n');
      assert.ok(r.stdout.includes('Target has 4 deletions.'), r.stdout);
      // Deleting it again later replaces the older trash copy (only the latest is kept).
      writeTree(p.a, { plain: 'p2' }, { mtime: T1 });
      await sync(p);
      fs.rmSync(path.join(p.a, 'plain'));
      await sync(p);
      assert.equal(read(path.join(p.b, '.osync_workdir/deleted/plain')), 'p2');
    });

    for (const changed of ['a', 'b'] as const) {
      test(`only the ${changed === 'a' ? 'initiator' : 'target'} changed since a settled run: the other is taken as its state; osync's current lists`, async () => {
        const p = pair();
        writeTree(p.a, { 'd/x': 'x', 'd/y': 'y', 'd/sub/z': 'z', top: 't', 'd/sub/w': 'w' }, { mtime: T0 });
        await sync(p);
        await sync(p); // settled: both listings' digests recorded
        const side = changed === 'a' ? p.a : p.b;
        fs.rmSync(path.join(side, 'd/y'));
        fs.rmSync(path.join(side, 'd/sub'), { recursive: true });
        writeTree(side, { top: 'T', 'd/new': 'n' }, { mtime: T1 });
        const r = await sync(p, ['--verbose']);
        const other = changed === 'a' ? 'target' : 'initiator';
        assert.match(r.log, new RegExp(`The ${other} replica lists exactly as the last run left it`));
        const want = { d: '<dir>', 'd/new': 'n', 'd/x': 'x', top: 'T' };
        assert.deepEqual(readTree(p.a), want);
        assert.deepEqual(readTree(p.b), want);
        const trash = changed === 'a' ? p.b : p.a;
        assert.deepEqual(workTree(trash, 'deleted'), { d: '<dir>', 'd/sub': '<dir>', 'd/sub/w': 'w', 'd/sub/z': 'z', 'd/y': 'y' });
        // osync's current lists: what each replica listed before this run changed anything.
        const before = 'd\nd/sub\nd/sub/w\nd/sub/z\nd/x\nd/y\ntop\n';
        const current = (s: string) => read(path.join(p.state, `${s}-tree-current-${ID}`));
        assert.equal(current(other), before);
        assert.equal(current(other === 'target' ? 'initiator' : 'target'), 'd\nd/new\nd/x\ntop\n');
        // The changed replica received nothing: the next run takes its state for its listing.
        const again = await sync(p, ['--summary', '--verbose']);
        assert.match(again.log, new RegExp(`The ${other === 'target' ? 'initiator' : 'target'} replica lists exactly as the last run left it`));
        assert.deepEqual(summaryBlock(again), ['Initiator has 0 updates.', 'Target has 0 updates.', 'Initiator has 0 deletions.', 'Target has 0 deletions.']);
        assert.deepEqual(readTree(p.a), want);
        // ... and then changes on it are found as on any replica.
        writeTree(side, { 'd/x': 'X2' }, { mtime: T2 });
        fs.rmSync(path.join(side, 'd/new'));
        await sync(p);
        assert.deepEqual(readTree(changed === 'a' ? p.b : p.a), { d: '<dir>', 'd/x': 'X2', top: 'T' });
      });
    }

    test("a replica that lists as before is taken from its state even when the other replica's metadata is gone", async () => {
      const p = pair();
      writeTree(p.a, { 'd/x': 'x', 'd/y': 'y', top: 't' }, { mtime: T0 });
      await sync(p);
      await sync(p); // settled: both digests recorded
      fs.rmSync(path.join(p.a, 'd/y'));
      writeTree(p.a, { top: 'T', 'd/new': 'n' }, { mtime: T1 });
      // Only the initiator's metadata goes (osync's lists stay): every path is compared,
      // the target (listed as before, its listing not kept) from its state's lines.
      fs.rmSync(path.join(p.state, `initiator-tree-after-${ID}.meta`));
      const r = await sync(p, ['--verbose']);
      assert.equal(r.code, 0, r.log);
      assert.match(r.log, /The target replica lists exactly as the last run left it/);
      const want = { d: '<dir>', 'd/new': 'n', 'd/x': 'x', top: 'T' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      assert.deepEqual(workTree(p.b, 'deleted'), { d: '<dir>', 'd/y': 'y' });
    });

    test('a replica that received changes is listed afresh next run, even if it then lists as before them', async () => {
      const p = pair();
      writeTree(p.a, { 'd/x': 'x' }, { mtime: T0 });
      await sync(p);
      await sync(p); // settled: both digests recorded
      const dirTimes = (root: string) => ['', 'd'].map((d) => fs.statSync(path.join(root, d)).mtime);
      const before = dirTimes(p.b);
      writeTree(p.a, { 'd/f': 'new' }, { mtime: T1 });
      await sync(p);
      assert.equal(read(path.join(p.b, 'd/f')), 'new');
      // Someone removes the copy again and puts the directory times back: the target lists
      // byte for byte as before that run. Its state (with d/f) must not stand for it.
      fs.rmSync(path.join(p.b, 'd/f'));
      ['', 'd'].forEach((d, i) => fs.utimesSync(path.join(p.b, d), before[i], before[i]));
      const r = await sync(p, ['--verbose']);
      assert.doesNotMatch(r.log, /The target replica lists exactly as the last run left it/);
      assert.ok(!exists(path.join(p.a, 'd/f')), 'the deletion on the target is propagated');
      assert.equal(read(path.join(p.a, '.osync_workdir/deleted/d/f')), 'new');
    });

    test('a deleted empty directory is soft-deleted too (moved into the trash, as osync does)', async () => {
      const p = pair();
      writeTree(p.a, { 'emptydir/': null, keep: 'k' }, { mtime: T0 });
      await sync(p);
      fs.rmdirSync(path.join(p.a, 'emptydir'));
      await sync(p);
      assert.ok(!exists(path.join(p.b, 'emptydir')));
      assert.ok(fs.statSync(path.join(p.b, '.osync_workdir/deleted/emptydir')).isDirectory());
    });

    for (const off of ['PRESERVE_GROUP', 'PRESERVE_OWNER']) {
      test(`${off}=false: files still sync both ways, edits and deletions propagate, then nothing to do`, async () => {
        // (rsync lists the group, or owner, as DEFAULT when it is not preserved)
        const p = pair();
        const env = { [off]: 'false' };
        writeTree(p.a, { 'd/x': 'x', keep: 'k' }, { mtime: T0 });
        writeTree(p.b, { 'from-b': 'b' }, { mtime: T0 });
        await sync(p, [], env);
        assert.deepEqual(readTree(p.b), { d: '<dir>', 'd/x': 'x', keep: 'k', 'from-b': 'b' });
        assert.deepEqual(readTree(p.a), readTree(p.b));
        writeTree(p.b, { keep: { content: 'edited', mtime: T1 } });
        fs.rmSync(path.join(p.a, 'd/x'));
        await sync(p, [], env);
        assert.deepEqual(readTree(p.a), { d: '<dir>', keep: 'edited', 'from-b': 'b' });
        assert.deepEqual(readTree(p.b), readTree(p.a));
        assert.equal(read(path.join(p.b, '.osync_workdir/deleted/d/x')), 'x');
        const again = await sync(p, ['--summary'], env);
        assert.match(again.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\./);
      });
    }

    test('deleting a file inside a directory that stays: exit 0, file in the trash', async () => {
      const p = pair();
      writeTree(p.a, { 'd/x': 'x', 'd/y': 'y' }, { mtime: T0 });
      await sync(p);
      fs.rmSync(path.join(p.b, 'd/y'));
      await sync(p);
      assert.deepEqual(readTree(p.a), { d: '<dir>', 'd/x': 'x' });
      assert.equal(read(path.join(p.a, '.osync_workdir/deleted/d/y')), 'y');
    });

    test('delete dir on one side while a new child appears on the other → the child survives on both', async () => {
      const p = pair();
      writeTree(p.a, { 'd/old': 'old' }, { mtime: T0 });
      writeTree(p.b, { 'd/old': 'old' }, { mtime: T0 });
      await sync(p);
      fs.rmSync(path.join(p.a, 'd'), { recursive: true });
      writeTree(p.b, { 'd/new': 'brand new' }, { mtime: T1 });
      await sync(p);
      assert.equal(read(path.join(p.a, 'd/new')), 'brand new');
      assert.equal(read(path.join(p.b, 'd/new')), 'brand new');
      assert.ok(!exists(path.join(p.a, 'd/old')));
      // The unchanged old child follows the deletion (softly), the new one is not trashed.
      assert.ok(!exists(path.join(p.b, '.osync_workdir/deleted/d/new')));
      if (exists(path.join(p.b, 'd/old'))) assert.fail('d/old should have been deleted on the target');
      assert.equal(read(path.join(p.b, '.osync_workdir/deleted/d/old')), 'old');
      await sync(p);
      assert.deepEqual(readTree(p.a), { d: '<dir>', 'd/new': 'brand new' });
      assert.deepEqual(readTree(p.b), { d: '<dir>', 'd/new': 'brand new' });
    });

    test('type changes file↔dir↔symlink propagate from the side that changed', async () => {
      const p = pair();
      const t = { x: 'file-x', 'y/inner': 'in-y', s: 'file-s', l: { symlink: 'x' } };
      writeTree(p.a, t, { mtime: T0 });
      writeTree(p.b, t, { mtime: T0 });
      await sync(p);
      fs.rmSync(path.join(p.a, 'x'));
      writeTree(p.a, { 'x/child': 'child' }, { mtime: T1 });
      fs.rmSync(path.join(p.a, 's'));
      fs.symlinkSync('y/inner', path.join(p.a, 's'));
      fs.rmSync(path.join(p.b, 'y'), { recursive: true });
      writeTree(p.b, { y: 'now-a-file' }, { mtime: T1 });
      fs.rmSync(path.join(p.b, 'l'));
      writeTree(p.b, { 'l/': null }, { mtime: T1 });
      await sync(p);
      const want = { l: '<dir>', s: '-> y/inner', x: '<dir>', 'x/child': 'child', y: 'now-a-file' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      // Nothing lost: the replaced items are in the trash or backup of the side that lost them.
      const bBackup = { ...workTree(p.b, 'backup'), ...workTree(p.b, 'deleted') };
      assert.equal(bBackup['x'], 'file-x', JSON.stringify(bBackup));
      const aSaved = { ...workTree(p.a, 'backup'), ...workTree(p.a, 'deleted') };
      assert.equal(aSaved['y/inner'], 'in-y', JSON.stringify(aSaved));
      await sync(p);
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
    });

    test('symlinks are copied as links (to file, to dir, broken); deleting one trashes the link itself', async () => {
      const p = pair();
      writeTree(p.a, { f: 'f', 'd/g': 'g', lf: { symlink: 'f' }, ld: { symlink: 'd' }, lb: { symlink: 'no/where' }, la: { symlink: '/etc/hostname' } }, { mtime: T0 });
      await sync(p);
      const want = { d: '<dir>', 'd/g': 'g', f: 'f', la: '-> /etc/hostname', lb: '-> no/where', ld: '-> d', lf: '-> f' };
      assert.deepEqual(readTree(p.b), want);
      fs.rmSync(path.join(p.a, 'lb'));
      fs.rmSync(path.join(p.a, 'ld'));
      await sync(p);
      assert.ok(!exists(path.join(p.b, 'lb')) && !exists(path.join(p.b, 'ld')));
      assert.equal(fs.readlinkSync(path.join(p.b, '.osync_workdir/deleted/lb')), 'no/where');
      assert.equal(fs.readlinkSync(path.join(p.b, '.osync_workdir/deleted/ld')), 'd');
      assert.equal(read(path.join(p.b, 'd/g')), 'g', 'the directory behind the link is untouched');
    });

    test('chmod on one side only propagates from the side that changed (PRESERVE_PERMISSIONS)', async () => {
      const p = pair();
      const t = { fa: { content: 'a', mode: 0o644 }, fb: { content: 'b', mode: 0o644 }, 'dd/': { dir: true as const, mode: 0o755 } };
      writeTree(p.a, t, { mtime: T0 });
      writeTree(p.b, t, { mtime: T0 });
      await sync(p);
      setMode(path.join(p.a, 'fa'), 0o755);
      setMode(path.join(p.b, 'fb'), 0o600);
      await sync(p);
      assert.equal(modeOf(path.join(p.b, 'fa')), 0o755);
      assert.equal(modeOf(path.join(p.a, 'fa')), 0o755);
      assert.equal(modeOf(path.join(p.a, 'fb')), 0o600, 'the target-side chmod reached the initiator (osync reverts it)');
      assert.equal(modeOf(path.join(p.b, 'fb')), 0o600, 'the target-side chmod was not reverted');
      await sync(p);
      assert.equal(modeOf(path.join(p.a, 'fb')), 0o600);
      assert.equal(modeOf(path.join(p.b, 'fa')), 0o755);
    });

    test('chown/chgrp on one side only propagates from the side that changed (PRESERVE_OWNER/GROUP), then settles', async () => {
      const p = pair();
      const t = { fa: 'a', fb: 'b', 'dd/x': 'x' };
      writeTree(p.a, t, { mtime: T0 });
      writeTree(p.b, t, { mtime: T0 });
      await sync(p);
      fs.chownSync(path.join(p.a, 'fa'), 4321, 8765);
      fs.chownSync(path.join(p.b, 'fb'), 1111, 2222);
      fs.chownSync(path.join(p.b, 'dd'), 3333, 4444);
      const r = await sync(p, ['--summary']);
      const owner = (f: string) => { const st = fs.lstatSync(f); return `${st.uid}:${st.gid}`; };
      assert.equal(owner(path.join(p.b, 'fa')), '4321:8765', 'initiator-side chown reached the target');
      assert.equal(owner(path.join(p.a, 'fb')), '1111:2222', 'target-side chown reached the initiator (osync reverts it)');
      assert.equal(owner(path.join(p.b, 'fb')), '1111:2222');
      assert.equal(owner(path.join(p.a, 'dd')), '3333:4444', 'a directory chown too');
      assert.match(r.stdout, /Attributes only updates: INITIATOR << >> TARGET\nUPDATE (<<|>>) /);
      // No ping-pong: the next runs change nothing.
      for (let i = 0; i < 2; i++) {
        const again = await sync(p, ['--summary']);
        assert.match(again.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\./, explain(again));
      }
      assert.equal(owner(path.join(p.a, 'fa')), '4321:8765');
    });

    test('SKIP_DELETION=target: a deletion on the initiator is not applied to the target', async () => {
      const p = pair();
      writeTree(p.a, { f: 'f', g: 'g' }, { mtime: T0 });
      writeTree(p.b, { f: 'f', g: 'g' }, { mtime: T0 });
      await sync(p);
      fs.rmSync(path.join(p.a, 'f'));
      fs.rmSync(path.join(p.b, 'g'));
      const r = await sync(p, ['--skip-deletion=target']);
      assert.equal(read(path.join(p.b, 'f')), 'f', 'target kept f');
      assert.ok(!exists(path.join(p.b, '.osync_workdir/deleted/f')));
      assert.ok(!exists(path.join(p.a, 'g')), 'deletion on the initiator side still propagated');
      assert.equal(read(path.join(p.a, '.osync_workdir/deleted/g')), 'g');
      assert.match(r.log, /Skipping deletion on replica target\./);
    });

    test('SYNC_TYPE=initiator2target mirrors one way: removed target files go to backup/, a newer target file is kept', async () => {
      const p = pair();
      writeTree(p.a, { same: 's', 'new-a': 'na', older: 'a-old' }, { mtime: T0 });
      writeTree(p.b, { same: 's', 'only-b': 'ob', older: { content: 'b-newer', mtime: T1 } }, { mtime: T0 });
      const before = readTree(p.a);
      await sync(p, [], { SYNC_TYPE: 'initiator2target' });
      assert.deepEqual(readTree(p.a), before, 'initiator untouched');
      assert.deepEqual(readTree(p.b), { 'new-a': 'na', older: 'b-newer', same: 's' });
      assert.equal(read(path.join(p.b, '.osync_workdir/backup/only-b')), 'ob');
      assert.equal(read(path.join(p.state, `initiator-last-action-${ID}`)).trim(), 'synced');
    });

    test('--sync-type=target2initiator mirrors the other way', async () => {
      const p = pair();
      writeTree(p.a, { 'only-a': 'oa', same: 's' }, { mtime: T0 });
      writeTree(p.b, { 'new-b/x': 'nb', same: 's' }, { mtime: T0 });
      const before = readTree(p.b);
      await sync(p, ['--sync-type=target2initiator']);
      assert.deepEqual(readTree(p.b), before, 'target untouched');
      assert.deepEqual(readTree(p.a), { 'new-b': '<dir>', 'new-b/x': 'nb', same: 's' });
      assert.equal(read(path.join(p.a, '.osync_workdir/backup/only-a')), 'oa');
    });

    test('SOFT_DELETE=false removes for good', async () => {
      const p = pair();
      writeTree(p.a, { f: 'f', 'd/x': 'x', keep: 'k' }, { mtime: T0 });
      writeTree(p.b, { f: 'f', 'd/x': 'x', keep: 'k' }, { mtime: T0 });
      await sync(p, [], { SOFT_DELETE: 'false' });
      fs.rmSync(path.join(p.a, 'f'));
      fs.rmSync(path.join(p.b, 'd'), { recursive: true });
      await sync(p, [], { SOFT_DELETE: 'false' });
      assert.deepEqual(readTree(p.a), { keep: 'k' });
      assert.deepEqual(readTree(p.b), { keep: 'k' });
      assert.deepEqual(workTree(p.a, 'deleted'), {});
      assert.deepEqual(workTree(p.b, 'deleted'), {});
      assert.deepEqual(workTree(p.a, 'backup'), {});
      assert.deepEqual(workTree(p.b, 'backup'), {});
    });

    test('missing target: created with CREATE_DIRS=true, refused (exit 1, nothing created) without', async () => {
      const p = pair();
      writeTree(p.a, { f: 'f' }, { mtime: T0 });
      const missing = path.join(p.root, 'not', 'yet');
      const r1 = await quickSync(p.a, missing);
      assert.equal(r1.code, 1, explain(r1));
      assert.match(r1.log, /\(CRITICAL\):.*does not exist.*CREATE_DIRS/);
      assert.ok(!exists(path.join(p.root, 'not')), 'nothing created');
      assert.ok(!exists(path.join(p.state, `initiator-tree-after-${ID}`)), 'no state written');
      const r2 = ok(await quickSync(p.a, missing, [], { CREATE_DIRS: 'true' }));
      assert.deepEqual(readTree(missing), { f: 'f' });
      assert.match(r2.log, kind === 'local' ? /Created local replica path/ : /Created remote replica path/);
    });

    test('INITIATOR_CUSTOM_STATE_DIR (conf file) and --initiator-state-dir hold all state files', async () => {
      const p = pair();
      writeTree(p.a, { f: 'f' }, { mtime: T0 });
      const custom = path.join(p.root, 'my state');
      const conf = makeConf(p.root, {
        INSTANCE_ID: 'cust',
        INITIATOR_SYNC_DIR: p.a,
        TARGET_SYNC_DIR: p.b,
        INITIATOR_CUSTOM_STATE_DIR: custom,
        LOGFILE: path.join(p.root, 'conf.log'),
      });
      const r = await runOsync([conf], { LOGFILE: path.join(p.root, 'conf.log'), MAX_DELETE_PERCENT: '100' });
      assert.equal(r.code, 0, explain(r));
      assert.equal(read(path.join(custom, 'initiator-tree-after-cust')), 'f\n');
      assert.equal(read(path.join(custom, 'target-tree-after-cust')), 'f\n');
      assert.equal(read(path.join(custom, 'initiator-last-action-cust')).trim(), 'synced');
      assert.ok(!exists(path.join(p.state, 'initiator-tree-after-cust')), 'nothing in the default state dir');
      // The custom state is what the next run uses: a deletion is detected through it.
      fs.rmSync(path.join(p.b, 'f'));
      assert.equal((await runOsync([conf], { LOGFILE: path.join(p.root, 'conf.log'), MAX_DELETE_PERCENT: '100' })).code, 0);
      assert.ok(!exists(path.join(p.a, 'f')));
      assert.equal(read(path.join(custom, 'target-deleted-list-cust')), 'f\n');

      const q = pair();
      writeTree(q.a, { g: 'g' }, { mtime: T0 });
      const flagDir = path.join(q.root, 'flagstate');
      await sync(q, [`--initiator-state-dir=${flagDir}`]);
      assert.equal(read(path.join(flagDir, `initiator-tree-after-${ID}`)), 'g\n');
      assert.ok(!exists(path.join(q.state, `initiator-tree-after-${ID}`)));
    });

    test('state written by osync.sh (tree-after lists without .meta): deletions detected, nothing lost', async () => {
      const p = pair();
      const t = { keep: 'k', gone: 'g', 'd/x': 'x', 'd/y': 'y', both: 'same', m: 'base-m', gone2: 'g2' };
      writeTree(p.a, t, { mtime: T0 });
      writeTree(p.b, t, { mtime: T0 });
      // As osync leaves them after a run: both lists, no osync-ts metadata.
      fs.mkdirSync(p.state, { recursive: true });
      const list = 'both\nd\nd/x\nd/y\ngone\ngone2\nkeep\nm\n';
      fs.writeFileSync(path.join(p.state, `initiator-tree-after-${ID}`), list);
      fs.writeFileSync(path.join(p.state, `target-tree-after-${ID}`), list);
      fs.writeFileSync(path.join(p.state, `initiator-last-action-${ID}`), 'synced\n');
      fs.writeFileSync(path.join(p.state, `target-last-action-${ID}`), 'synced\n');
      fs.writeFileSync(path.join(p.state, `resume-count-${ID}`), '0\n');
      assert.ok(!fs.readdirSync(p.state).some((n) => n.endsWith('.meta')));

      fs.rmSync(path.join(p.a, 'gone'));
      fs.rmSync(path.join(p.b, 'gone2'));
      fs.rmSync(path.join(p.a, 'd'), { recursive: true });
      writeTree(p.b, { m: 'edited-m', 'new-b': 'nb' }, { mtime: T1 });
      writeTree(p.a, { 'new-a': 'na' }, { mtime: T1 });
      await sync(p);
      const want = { both: 'same', keep: 'k', m: 'edited-m', 'new-a': 'na', 'new-b': 'nb' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      assert.equal(read(path.join(p.b, '.osync_workdir/deleted/gone')), 'g');
      assert.equal(read(path.join(p.a, '.osync_workdir/deleted/gone2')), 'g2');
      assert.deepEqual(workTree(p.b, 'deleted'), { d: '<dir>', 'd/x': 'x', 'd/y': 'y', gone: 'g' });
      assert.equal(read(path.join(p.a, '.osync_workdir/backup/m')), 'base-m');
      assert.equal(read(path.join(p.state, `initiator-tree-after-${ID}`)), 'both\nkeep\nm\nnew-a\nnew-b\n');
      assert.equal(read(path.join(p.state, `initiator-deleted-list-${ID}`)), 'd\ngone\n');
      assert.equal(read(path.join(p.state, `target-deleted-list-${ID}`)), 'gone2\n');
      await sync(p);
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
    });

    test('special files: a fifo is copied, and its deletion propagates to the trash like a file (osync copies it back); osync\'s lists leave them out', async () => {
      const p = pair();
      writeTree(p.a, { f: 'one', d: null }, { mtime: T0 });
      execFileSync('mkfifo', [path.join(p.a, 'pipe'), path.join(p.a, 'd', 'p2')]);
      await sync(p);
      const isFifo = (f: string) => exists(f) && fs.lstatSync(f).isFIFO();
      assert.ok(isFifo(path.join(p.b, 'pipe')) && isFifo(path.join(p.b, 'd', 'p2')), 'fifos created on the target');
      // osync.sh does not list special files: in osync's lists they would read as deleted on
      // both sides on its next run. Our metadata beside them tracks them.
      for (const name of ['initiator-tree-after', 'target-tree-after', 'initiator-tree-current']) assert.equal(read(path.join(p.state, `${name}-${ID}`)), 'd\nf\n', name);
      assert.match(read(path.join(p.state, `initiator-tree-after-${ID}.meta`)), / pipe\n/);
      const quiet = await sync(p, ['--summary']);
      assert.deepEqual(summaryBlock(quiet), ['Initiator has 0 updates.', 'Target has 0 updates.', 'Initiator has 0 deletions.', 'Target has 0 deletions.']);

      fs.rmSync(path.join(p.b, 'pipe'));
      await sync(p);
      assert.ok(!exists(path.join(p.a, 'pipe')), 'the deletion propagated');
      assert.ok(isFifo(path.join(p.a, '.osync_workdir', 'deleted', 'pipe')), 'into the trash, still a fifo');
      assert.deepEqual(readTree(p.a), { d: '<dir>', 'd/p2': '<special>', f: 'one' });
      assert.deepEqual(readTree(p.b), readTree(p.a));
    });

    test('PRESERVE_ACL/XATTR: an ACL or xattr change alone goes from the side that made it last, nothing else moves', async () => {
      const p = pair();
      writeTree(p.a, { f: 'one', 'd/g': 'gee', h: 'aitch', k: 'kay' }, { mtime: T0 });
      const env = { PRESERVE_ACL: 'yes', PRESERVE_XATTR: 'yes' };
      await sync(p, [], env);
      const acl = (f: string) => execFileSync('getfacl', ['-p', '--omit-header', f], { encoding: 'utf8' });
      const xattr = (f: string) => execFileSync('getfattr', ['--absolute-names', '-d', f], { encoding: 'utf8' }).replace(/^# file: .*\n/m, '');
      const at = (r: string, rel: string) => path.join(r, rel);
      const setfacl = (...args: string[]) => execFileSync('setfacl', args);
      const setfattr = (f: string, k: string, v: string) => execFileSync('setfattr', ['-n', k, '-v', v, f]);
      const mtimes = () => ['f', 'd', 'd/g', 'h', 'k'].flatMap((rel) => [fs.lstatSync(at(p.a, rel)).mtimeMs, fs.lstatSync(at(p.b, rel)).mtimeMs]);
      // Changed on both sides: the later change wins (ctimes compared to the second remotely).
      setfattr(at(p.b, 'h'), 'user.v', 'older');
      // The two sides' directory times differ (as after a file was added on one side): the
      // directory still gets its ACL.
      setMtime(at(p.a, 'd'), T1);
      await new Promise((res) => setTimeout(res, 1100));
      setfattr(at(p.a, 'h'), 'user.v', 'newer');
      // The mode stays as it is (mask = group bits), so only the ACL tells these apart.
      setfacl('-m', 'u:nobody:r--', at(p.a, 'f'));
      setfattr(at(p.b, 'd/g'), 'user.origin', 'target');
      setfacl('-d', '-m', 'u:nobody:r-x', at(p.b, 'd'));
      const before = mtimes();
      const dry = await sync(p, ['--dry'], env);
      assert.match(dry.log, /Dryrun: would copy ACL of \[f\] initiator → target\./, explain(dry));
      assert.doesNotMatch(acl(at(p.b, 'f')), /nobody/, '--dry changes nothing');
      const r = await sync(p, ['--verbose'], env);
      assert.match(acl(at(p.b, 'f')), /^user:nobody:r--$/m, explain(r));
      assert.match(xattr(at(p.a, 'd/g')), /user.origin="target"/, explain(r));
      assert.match(acl(at(p.a, 'd')), /^default:user:nobody:r-x$/m, explain(r));
      assert.match(xattr(at(p.b, 'h')), /user.v="newer"/, explain(r));
      assert.match(xattr(at(p.a, 'h')), /user.v="newer"/);
      assert.equal(acl(at(p.a, 'k')), acl(at(p.b, 'k')));
      assert.deepEqual(mtimes(), before, 'no content or time changed');
      assert.match(r.log, /Copying ACL of \[f\] initiator → target\./);
      assert.match(r.log, /Copying xattrs of \[d\/g\] target → initiator\./);
      assert.match(r.log, /Copying ACL of \[d\] target → initiator\./);
      assert.match(r.log, /Copying xattrs of \[h\] initiator → target\./);
      assert.doesNotMatch(r.log, /\[k\]/);
      assert.deepEqual(workTree(p.a, 'backup'), {}, 'an attribute update is no overwrite');
      assert.deepEqual(workTree(p.b, 'backup'), {});
      // Settled: nothing more to copy, and without the keys nothing is looked at.
      const r2 = await sync(p, ['--verbose'], env);
      assert.doesNotMatch(r2.log, /Copying (ACL|xattrs)/, explain(r2));
      setfattr(at(p.a, 'k'), 'user.v', 'quiet');
      const r3 = await sync(p, ['--verbose']);
      assert.doesNotMatch(r3.log, /Getting list of files that need updates|Copying (ACL|xattrs)/, explain(r3));
      assert.doesNotMatch(xattr(at(p.b, 'k')), /user.v/);
    });
  });
}
