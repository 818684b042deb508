// The trash: soft deletes and backups that never collide, --list-trash, --restore, and
// CONFLICT_COPY_BESIDE. Real rsync, real files, the real command line; a remote part
// runs the same against a loopback sshd.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { conflictCopyName, parseAt, splitVersion, versionSuffix } from '../lib/trash.js';
import { explain, quickSync, runOsync, type OsyncResult } from './support/osync.js';
import { keyPath, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { readTree, replicaPair, rmTree, scratchDir, writeTree } from './support/tree.js';
import { sweepStaleTempDirs } from '../lib/tmp.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmTree(d);
});

function pair(): { a: string; b: string } {
  const p = replicaPair('osync-ts-trash-');
  dirs.push(p.root);
  writeTree(p.a, FILL);
  return p;
}

/** Files that stay put, so the deletions these tests make stay under the deletion guard. */
const FILL: Record<string, string> = Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8].map((n) => [`fill/${n}`, `filler ${n}`]));
/** readTree without the filler. */
function tree(root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(readTree(root)).filter(([k]) => k !== 'fill' && !k.startsWith('fill/')));
}

async function sync(a: string, b: string, env: Record<string, string> = {}): Promise<OsyncResult> {
  const r = await quickSync(a, b, [], env);
  assert.equal(r.code, 0, explain(r));
  return r;
}

const trash = (root: string, where: 'deleted' | 'backup') => path.join(root, '.osync_workdir', where);
const T2024_01 = new Date(2024, 0, 10, 8, 30, 0).getTime() / 1000;
const T2024_03 = new Date(2024, 2, 5, 17, 45, 9).getTime() / 1000;
const suffix = (t: number) => versionSuffix(t);

describe('names', () => {
  test('version suffix round trip and conflict copy names', () => {
    assert.equal(versionSuffix(T2024_03), '.2024.03.05-17.45.09');
    assert.deepEqual(splitVersion('report.pdf.2024.03.05-17.45.09'), { name: 'report.pdf', version: T2024_03 });
    assert.deepEqual(splitVersion('report.pdf.2024.03.05-17.45.09-2'), { name: 'report.pdf', version: T2024_03 });
    assert.deepEqual(splitVersion('report.pdf'), { name: 'report.pdf' });
    const tag = '2026-11-25 134209 target';
    assert.equal(conflictCopyName('docs/report.final.txt', tag), 'docs/report.final (conflict 2026-11-25 134209 target).txt');
    assert.equal(conflictCopyName('.bashrc', tag), '.bashrc (conflict 2026-11-25 134209 target)');
    assert.equal(conflictCopyName('d/.config.json', tag), 'd/.config (conflict 2026-11-25 134209 target).json');
    assert.equal(conflictCopyName('Makefile', tag), 'Makefile (conflict 2026-11-25 134209 target)');
    assert.equal(conflictCopyName('x/name.', tag), 'x/name. (conflict 2026-11-25 134209 target)');
    assert.equal(parseAt('2024-03-05T17:45:09'), T2024_03);
    assert.equal(parseAt('2024-03-05 17:45:09Z'), Date.UTC(2024, 2, 5, 17, 45, 9) / 1000);
    assert.throws(() => parseAt('yesterday'), /Bad --at value \[yesterday\]/);
    assert.throws(() => parseAt('2024-13-01'), /Bad --at value/);
  });
});

describe('soft deletes and backups never collide', () => {
  test('three versions with the same mtime: the suffixed name is taken too, so "-1" is added', async () => {
    const { a, b } = pair();
    writeTree(a, { keep: 'k' });
    for (const content of ['one', 'two', 'three']) {
      writeTree(a, { f: { content, mtime: T2024_01 } });
      await sync(a, b);
      fs.rmSync(path.join(a, 'f'));
      await sync(a, b);
    }
    assert.deepEqual(readTree(trash(b, 'deleted')), { f: 'three', [`f${suffix(T2024_01)}`]: 'one', [`f${suffix(T2024_01)}-1`]: 'two' });
    assert.deepEqual(tree(b), { keep: 'k' });
  });

  test('the same path deleted twice: both versions kept; file and directory collide both ways', async () => {
    const { a, b } = pair();
    writeTree(a, { f: { content: 'first', mtime: T2024_01 }, d: { content: 'a file named d', mtime: T2024_01 }, keep: 'k' });
    await sync(a, b);
    fs.rmSync(path.join(a, 'f'));
    fs.rmSync(path.join(a, 'd'));
    await sync(a, b);
    assert.deepEqual(readTree(trash(b, 'deleted')), { d: 'a file named d', f: 'first' });
    // The same names again: f a file again, d now a directory.
    writeTree(a, { f: { content: 'second!', mtime: T2024_03 }, 'd/x': { content: 'x in dir d', mtime: T2024_03 } });
    await sync(a, b);
    fs.rmSync(path.join(a, 'f'));
    fs.rmSync(path.join(a, 'd'), { recursive: true });
    await sync(a, b);
    const dir = fs.statSync(path.join(trash(b, 'deleted'), 'd')).isDirectory();
    assert.ok(dir, 'the directory d took the plain name');
    assert.deepEqual(readTree(trash(b, 'deleted')), {
      d: '<dir>',
      'd/x': 'x in dir d',
      [`d${suffix(T2024_01)}`]: 'a file named d',
      f: 'second!',
      [`f${suffix(T2024_01)}`]: 'first',
    });
    // And a file d once more, over the trashed directory d.
    writeTree(a, { d: { content: 'file d again', mtime: T2024_03 + 60 } });
    await sync(a, b);
    fs.rmSync(path.join(a, 'd'));
    await sync(a, b);
    const t = readTree(trash(b, 'deleted'));
    assert.equal(t['d'], 'file d again');
    const dirVersion = Object.keys(t).find((k) => /^d\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d$/.test(k) && t[k] === '<dir>');
    assert.ok(dirVersion, `the earlier directory d is kept under a suffixed name: ${JSON.stringify(t)}`);
    assert.equal(t[`${dirVersion}/x`], 'x in dir d');
    assert.equal(t[`d${suffix(T2024_01)}`], 'a file named d');
    assert.deepEqual(tree(a), { keep: 'k' });
    assert.deepEqual(tree(b), { keep: 'k' });
  });

  test('backups: a file overwritten twice keeps both earlier versions; CONFLICT_BACKUP_MULTIPLE unchanged', async () => {
    const { a, b } = pair();
    writeTree(a, { f: { content: 'v1', mtime: T2024_01 } });
    await sync(a, b);
    writeTree(a, { f: { content: 'v2 longer', mtime: T2024_03 } });
    await sync(a, b);
    writeTree(a, { f: { content: 'v3', mtime: T2024_03 + 3600 } });
    await sync(a, b);
    assert.equal(fs.readFileSync(path.join(b, 'f'), 'utf8'), 'v3');
    assert.deepEqual(readTree(trash(b, 'backup')), { f: 'v2 longer', [`f${suffix(T2024_01)}`]: 'v1' });

    // With CONFLICT_BACKUP_MULTIPLE the run-time suffix already separates versions: nothing is renamed.
    const m = pair();
    writeTree(m.a, { f: { content: 'v1', mtime: T2024_01 } });
    await sync(m.a, m.b, { CONFLICT_BACKUP_MULTIPLE: 'true' });
    writeTree(m.a, { f: { content: 'v2 longer', mtime: T2024_03 } });
    await sync(m.a, m.b, { CONFLICT_BACKUP_MULTIPLE: 'true' });
    const names = Object.keys(readTree(trash(m.b, 'backup')));
    assert.equal(names.length, 1);
    assert.match(names[0], /^f\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d$/);
    assert.notEqual(names[0], `f${suffix(T2024_01)}`, 'the suffix is the run time, not the mtime');
  });
});

/** Sync, edit, sync: osync's own MultipleConflictBackups test (dev/tests/run_tests.sh), with
 *  each edit dated in the past so no run can take it for unchanged. `run` syncs a and b. */
async function threeConflictBackups(a: string, b: string, run: (env: Record<string, string>) => Promise<OsyncResult>): Promise<void> {
  const multiple = { CONFLICT_BACKUP_MULTIPLE: 'true' };
  const t0 = Math.floor(Date.now() / 1000) - 600;
  writeTree(a, { FileA: { content: 'FileA\n', mtime: t0 } });
  writeTree(b, { FileB: { content: 'FileB\n', mtime: t0 } });
  let r = await run(multiple);
  assert.equal(r.code, 0, explain(r));
  const edits = ['+', '-', '*'];
  for (let i = 0; i < edits.length; i++) {
    writeTree(b, { FileA: { content: `FileA${edits[i]}\n`, mtime: t0 + 10 * (i + 1) } });
    writeTree(a, { FileB: { content: `FileB${edits[i]}\n`, mtime: t0 + 10 * (i + 1) } });
    r = await run(multiple);
    assert.equal(r.code, 0, explain(r));
  }
  const year = String(new Date().getFullYear());
  const versions = (root: string, name: string) => Object.keys(readTree(trash(root, 'backup'))).filter((k) => k.startsWith(`${name}.${year}`)).sort();
  // As osync's test: find backup/ -name "FileA.$(date +%Y)*" | wc -l is 3.
  assert.equal(versions(a, 'FileA').length, 3, JSON.stringify(readTree(trash(a, 'backup'))));
  assert.equal(versions(b, 'FileB').length, 3, JSON.stringify(readTree(trash(b, 'backup'))));
  for (const k of versions(a, 'FileA')) assert.match(k, /^FileA\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d(-\d+)?$/);
  assert.deepEqual(versions(a, 'FileA').map((k) => readTree(trash(a, 'backup'))[k]).sort(), ['FileA\n', 'FileA+\n', 'FileA-\n']);
  assert.equal(fs.existsSync(path.join(trash(a, 'backup'), 'FileA')), false, 'no version under the plain name');
}

/** A version already in backup/ under every name a run starting in the next two minutes
 *  could give `name`: a run in the same second as another must not replace it. */
function occupyRunNames(trashDir: string, name: string): Record<string, string> {
  const now = Math.floor(Date.now() / 1000);
  const taken: Record<string, string> = {};
  for (let t = now - 2; t < now + 120; t++) taken[`${name}${suffix(t)}`] = `earlier version ${t}`;
  writeTree(trashDir, taken);
  return taken;
}

describe('deletions done by rsync (SOFT_DELETE=false, one-way mirrors)', () => {
  // rsync 3.2.7 as patched in Debian (deb12u5 and later) refuses a missing "./name" in a
  // --delete-missing-args list ("invalid file mode 00"): the deletions failed for good.
  test('SOFT_DELETE=false deletes, names starting with # and ; included; a one-way mirror deletes into backup/', async () => {
    const { a, b } = pair();
    writeTree(a, { '#hash': 'h', ';semi': 's', 'd/x': 'x', plain: 'p', keep: 'k' });
    await sync(a, b, { SOFT_DELETE: 'false' });
    for (const n of ['#hash', ';semi', 'd', 'plain']) fs.rmSync(path.join(a, n), { recursive: true });
    await sync(a, b, { SOFT_DELETE: 'false' });
    assert.deepEqual(tree(b), { keep: 'k' });
    assert.equal(fs.existsSync(trash(b, 'deleted')), false);

    writeTree(b, { stray: 'from b' });
    const r = await quickSync(a, b, ['--sync-type=initiator2target']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(tree(b), { keep: 'k' });
    assert.equal(fs.readFileSync(path.join(trash(b, 'backup'), 'stray'), 'utf8'), 'from b');
  });
});

describe('CONFLICT_BACKUP_MULTIPLE: every version named <name>.<run date>, as osync', () => {
  test('three conflicts on FileA leave three FileA.<date> files in backup/ (osync MultipleConflictBackups)', async () => {
    const { a, b } = pair();
    await threeConflictBackups(a, b, (env) => quickSync(a, b, [], env));
  });

  test('a run in the same second as an earlier one never replaces its version', async () => {
    const { a, b } = pair();
    writeTree(a, { f: { content: 'v1', mtime: T2024_01 } });
    await sync(a, b, { CONFLICT_BACKUP_MULTIPLE: 'true' });
    const taken = occupyRunNames(trash(b, 'backup'), 'f');
    writeTree(a, { f: { content: 'v2 longer', mtime: T2024_03 } });
    await sync(a, b, { CONFLICT_BACKUP_MULTIPLE: 'true' });
    const t = readTree(trash(b, 'backup'));
    for (const [k, v] of Object.entries(taken)) assert.equal(t[k], v, `${k} was replaced`);
    const added = Object.keys(t).filter((k) => !(k in taken));
    assert.equal(added.length, 1, JSON.stringify(added));
    assert.match(added[0], /^f\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d-1$/);
    assert.equal(t[added[0]], 'v1');
  });
});

describe('names close to the 255-byte limit in the trash', () => {
  // 250 bytes: the name itself fits, the name plus a version suffix (20 bytes) does not.
  const long = 'n'.repeat(120) + 'é'.repeat(63) + '.txt';
  const versioned = (k: string) => k !== long && k.endsWith(suffix(T2024_01)) && Buffer.byteLength(k) <= 255;

  test('deleted twice, overwritten twice, and with CONFLICT_BACKUP_MULTIPLE: every version kept, under a name that fits', async () => {
    assert.equal(Buffer.byteLength(long), 250);
    const { a, b } = pair();
    writeTree(a, { [long]: { content: 'one', mtime: T2024_01 } });
    await sync(a, b);
    fs.rmSync(path.join(a, long));
    await sync(a, b);
    writeTree(a, { [long]: { content: 'two!', mtime: T2024_03 } });
    await sync(a, b);
    fs.rmSync(path.join(a, long));
    await sync(a, b);
    const del = readTree(trash(b, 'deleted'));
    assert.equal(del[long], 'two!');
    const kept = Object.keys(del).filter(versioned);
    assert.equal(kept.length, 1, JSON.stringify(Object.keys(del)));
    assert.equal(del[kept[0]], 'one');
    // The name part is cut on a character boundary: the kept name is valid UTF-8.
    assert.ok(Buffer.from(kept[0]).toString('utf8') === kept[0] && !kept[0].includes('\ufffd'));

    writeTree(a, { [long]: { content: 'v1', mtime: T2024_01 } });
    await sync(a, b);
    writeTree(a, { [long]: { content: 'v2 longer', mtime: T2024_03 } });
    await sync(a, b);
    writeTree(a, { [long]: { content: 'v3', mtime: T2024_03 + 60 } });
    await sync(a, b);
    const bk = readTree(trash(b, 'backup'));
    assert.equal(bk[long], 'v2 longer');
    assert.deepEqual(Object.keys(bk).filter(versioned).map((k) => bk[k]), ['v1']);

    writeTree(a, { [long]: { content: 'v4 multiple', mtime: T2024_03 + 120 } });
    await sync(a, b, { CONFLICT_BACKUP_MULTIPLE: 'true' });
    const run = Object.keys(readTree(trash(b, 'backup'))).filter((k) => /\.\d{4}\.\d\d\.\d\d-\d\d\.\d\d\.\d\d$/.test(k) && readTree(trash(b, 'backup'))[k] === 'v3');
    assert.equal(run.length, 1);
    assert.ok(Buffer.byteLength(run[0]) <= 255);
  });
});

describe('--list-trash and --restore (local)', () => {
  /** a and b synced, then `f` deleted twice (versions 2024-01 and 2024-03), `dir/` deleted,
   *  and `e` edited (its old version in the target's backup). */
  async function history(): Promise<{ a: string; b: string }> {
    const { a, b } = pair();
    writeTree(a, { f: { content: 'f one', mtime: T2024_01 }, 'dir/x': { content: 'x', mtime: T2024_01 }, 'dir/sub/y': { content: 'yy', mtime: T2024_01 }, e: { content: 'e old', mtime: T2024_01 }, keep: 'k' });
    await sync(a, b);
    fs.rmSync(path.join(a, 'f'));
    fs.rmSync(path.join(a, 'dir'), { recursive: true });
    writeTree(a, { e: { content: 'e new!', mtime: T2024_03 } });
    await sync(a, b);
    writeTree(a, { f: { content: 'f two!', mtime: T2024_03 } });
    await sync(a, b);
    fs.rmSync(path.join(a, 'f'));
    await sync(a, b);
    return { a, b };
  }

  test('--list-trash lists every version with side, trash, date and size, sorted, and a total', async () => {
    const { a, b } = await history();
    const r = await quickSync(a, b, ['--list-trash']);
    assert.equal(r.code, 0, explain(r));
    const when = (t: number) => {
      const d = new Date(t * 1000);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    const lines = r.stdout.trimEnd().split('\n').map((l) => l.replace(/ +/g, ' '));
    assert.deepEqual(lines, [
      'SIDE WHERE MODIFIED SIZE PATH',
      `target deleted ${when(T2024_01)} 2 dir/sub/y`,
      `target deleted ${when(T2024_01)} 1 dir/x`,
      `target backup ${when(T2024_01)} 5 e`,
      `target deleted ${when(T2024_03)} 6 f`,
      `target deleted ${when(T2024_01)} 5 f (version ${when(T2024_01)})`,
      '5 item(s), 19 bytes in the trash (initiator 0, target 5).',
    ]);
    // Nothing was changed or locked by listing.
    assert.equal(fs.existsSync(path.join(a, '.osync_workdir', 'lock')), false);
    assert.deepEqual(tree(b), { e: 'e new!', keep: 'k' });
  });

  test('--restore: newest, --at, --from, a directory, the current file kept in backup, then a sync propagates it', async () => {
    const { a, b } = await history();
    // --at picks the version current then: the January f.
    let r = await quickSync(a, b, ['--restore=f', '--at=2024-02-01']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /Restored \[f\] on target replica from deleted \(version of 2024-01-10 08:30:00\)/);
    assert.equal(fs.readFileSync(path.join(b, 'f'), 'utf8'), 'f one');
    // No --at: the newest; the January f now in place goes to backup first.
    r = await quickSync(a, b, ['--restore=f']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /The current \[f\] on target replica was moved to the backup directory\./);
    assert.equal(fs.readFileSync(path.join(b, 'f'), 'utf8'), 'f two!');
    assert.equal(fs.readFileSync(path.join(trash(b, 'backup'), 'f'), 'utf8'), 'f one');
    // --from=backup: the old e replaces the current one, which is kept in backup under its mtime.
    r = await quickSync(a, b, ['--restore=e', '--from=backup']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(b, 'e'), 'utf8'), 'e old');
    assert.equal(fs.readFileSync(path.join(trash(b, 'backup'), 'e'), 'utf8'), 'e new!');
    // A directory comes back whole.
    r = await quickSync(a, b, ['--restore=dir/']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(path.join(b, 'dir')), { sub: '<dir>', 'sub/y': 'yy', x: 'x' });
    assert.equal(fs.existsSync(path.join(b, '.osync_workdir', 'lock')), false, 'locks released');
    // The next sync copies what was restored to the other side and deletes nothing.
    const s = await quickSync(a, b, ['--summary']);
    assert.equal(s.code, 0, explain(s));
    const expected = { dir: '<dir>', 'dir/sub': '<dir>', 'dir/sub/y': 'yy', 'dir/x': 'x', e: 'e old', f: 'f two!', keep: 'k' };
    assert.deepEqual(tree(a), expected);
    assert.deepEqual(tree(b), expected);
    assert.match(s.stdout, /Initiator has 0 deletions\.\nTarget has 0 deletions\./);
    const again = await quickSync(a, b, ['--summary']);
    assert.match(again.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\.\nInitiator has 0 deletions\.\nTarget has 0 deletions\./, explain(again));
  });

  test('errors: nothing found, bad --at, ambiguous, bad --from, a locked replica', async () => {
    const { a, b } = await history();
    const cases: Array<[string[], RegExp]> = [
      [['--restore=nope'], /Nothing to restore: no version of \[nope\] in the trash on either replica\./],
      [['--restore=f', '--at=2023-12-31'], /Nothing to restore: no version of \[f\] from before 2023-12-31 00:00:00\./],
      [['--restore=f', '--at=last tuesday'], /Bad --at value \[last tuesday\]/],
      [['--restore=f', '--from=bin'], /Bad --from value \[bin\]: expected deleted or backup\./],
      [['--restore=f', '--side=initiator'], /Nothing to restore: no version of \[f\] in the trash on initiator replica\./],
      [['--restore=../etc/passwd'], /Bad --restore path/],
    ];
    for (const [args, message] of cases) {
      const r = await quickSync(a, b, args);
      assert.equal(r.code, 1, explain(r));
      assert.match(r.stdout + r.stderr, message);
    }
    // Same path, same time, on both replicas: ambiguous until --side says which.
    writeTree(trash(a, 'deleted'), { g: { content: 'g on a', mtime: T2024_01 } });
    writeTree(trash(b, 'deleted'), { g: { content: 'g on b', mtime: T2024_01 } });
    let r = await quickSync(a, b, ['--restore=g']);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /Ambiguous: \[g\] has versions of the same time \(2024-01-10 08:30:00\) in initiator deleted and target deleted; choose with --side=initiator\|target/);
    assert.equal(fs.existsSync(path.join(a, 'g')) || fs.existsSync(path.join(b, 'g')), false);
    r = await quickSync(a, b, ['--restore=g', '--side=initiator']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(a, 'g'), 'utf8'), 'g on a');
    // A live lock (this test's pid) stops a restore, and nothing moves.
    fs.writeFileSync(path.join(b, '.osync_workdir', 'lock'), `${process.pid}@quicksync_task\n`);
    r = await quickSync(a, b, ['--restore=dir']);
    assert.equal(r.code, 1, explain(r));
    assert.equal(fs.existsSync(path.join(b, 'dir')), false);
    assert.equal(fs.readFileSync(path.join(b, '.osync_workdir', 'lock'), 'utf8'), `${process.pid}@quicksync_task\n`);
  });
});

describe('CONFLICT_COPY_BESIDE', () => {
  async function conflicted(env: Record<string, string>): Promise<{ a: string; b: string }> {
    const { a, b } = pair();
    writeTree(a, { 'docs/report.txt': { content: 'base', mtime: T2024_01 }, '.rc': { content: 'base', mtime: T2024_01 } });
    await sync(a, b, env);
    writeTree(a, { 'docs/report.txt': { content: 'older edit on a', mtime: T2024_03 }, '.rc': { content: 'rc newer on a', mtime: T2024_03 + 10 } });
    writeTree(b, { 'docs/report.txt': { content: 'newer edit on b', mtime: T2024_03 + 10 }, '.rc': { content: 'rc on b', mtime: T2024_03 } });
    await sync(a, b, env);
    return { a, b };
  }

  test('off by default: the loser only goes to backup, as osync', async () => {
    const { a, b } = await conflicted({});
    const expected = { '.rc': 'rc newer on a', docs: '<dir>', 'docs/report.txt': 'newer edit on b' };
    assert.deepEqual(tree(a), expected);
    assert.deepEqual(tree(b), expected);
    assert.equal(fs.readFileSync(path.join(trash(a, 'backup'), 'docs/report.txt'), 'utf8'), 'older edit on a');
  });

  test('on: the losing version also sits beside the file on both replicas, and the next run is quiet', async () => {
    const { a, b } = await conflicted({ CONFLICT_COPY_BESIDE: 'true' });
    for (const root of [a, b]) {
      const t = tree(root);
      const report = Object.keys(t).filter((k) => k.startsWith('docs/report (conflict '));
      assert.equal(report.length, 1, JSON.stringify(t));
      assert.match(report[0], /^docs\/report \(conflict \d{4}-\d\d-\d\d \d{6} initiator\)\.txt$/);
      assert.equal(t[report[0]], 'older edit on a');
      const rc = Object.keys(t).filter((k) => k.startsWith('.rc (conflict '));
      assert.equal(rc.length, 1, JSON.stringify(t));
      assert.match(rc[0], /^\.rc \(conflict \d{4}-\d\d-\d\d \d{6} target\)$/);
      assert.equal(t[rc[0]], 'rc on b');
      assert.equal(t['docs/report.txt'], 'newer edit on b');
      assert.equal(t['.rc'], 'rc newer on a');
    }
    assert.deepEqual(tree(a), tree(b));
    assert.equal(fs.readFileSync(path.join(trash(a, 'backup'), 'docs/report.txt'), 'utf8'), 'older edit on a');
    const next = await quickSync(a, b, ['--summary'], { CONFLICT_COPY_BESIDE: 'true' });
    assert.match(next.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\.\nInitiator has 0 deletions\.\nTarget has 0 deletions\./, explain(next));
  });
});

describe('remote target over ssh', () => {
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });
  const remote = (a: string, b: string, args: string[], env: Record<string, string> = {}) =>
    runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--rsakey=${keyPath(sshd, 'root')}`, ...args], {
      SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '),
      ...env,
    });

  test('CONFLICT_BACKUP_MULTIPLE on a remote target: three FileB.<date> versions in its backup/; same-second names kept', async () => {
    const { a, b } = pair();
    await threeConflictBackups(a, b, (env) => remote(a, b, [], env));
    const taken = occupyRunNames(trash(b, 'backup'), 'FileA');
    writeTree(a, { FileA: { content: 'FileA again\n', mtime: Math.floor(Date.now() / 1000) - 60 } });
    const r = await remote(a, b, [], { CONFLICT_BACKUP_MULTIPLE: 'true' });
    assert.equal(r.code, 0, explain(r));
    const t = readTree(trash(b, 'backup'));
    for (const [k, v] of Object.entries(taken)) assert.equal(t[k], v, `${k} was replaced`);
    assert.equal(Object.keys(t).filter((k) => k.startsWith('FileA.') && !(k in taken)).length, 1);
  });

  test('names close to 255 bytes on a remote target: deleted twice, both versions kept', async () => {
    const long = 'r'.repeat(246) + '.txt';
    const { a, b } = pair();
    writeTree(a, { [long]: { content: 'one', mtime: T2024_01 } });
    assert.equal((await remote(a, b, [])).code, 0);
    fs.rmSync(path.join(a, long));
    assert.equal((await remote(a, b, [])).code, 0);
    writeTree(a, { [long]: { content: 'two!', mtime: T2024_03 } });
    assert.equal((await remote(a, b, [])).code, 0);
    fs.rmSync(path.join(a, long));
    const r = await remote(a, b, []);
    assert.equal(r.code, 0, explain(r));
    const del = readTree(trash(b, 'deleted'));
    assert.equal(del[long], 'two!');
    const kept = Object.keys(del).filter((k) => k !== long && k.endsWith(suffix(T2024_01)));
    assert.equal(kept.length, 1, JSON.stringify(Object.keys(del)));
    assert.equal(del[kept[0]], 'one');
    assert.equal(Buffer.byteLength(kept[0]), 251);
  });

  test('collisions, --list-trash and --restore on a remote target', async () => {
    const { a, b } = pair();
    writeTree(a, { f: { content: 'f one', mtime: T2024_01 }, d: { content: 'file d', mtime: T2024_01 }, keep: 'k' });
    assert.equal((await remote(a, b, [])).code, 0);
    fs.rmSync(path.join(a, 'f'));
    fs.rmSync(path.join(a, 'd'));
    assert.equal((await remote(a, b, [])).code, 0);
    writeTree(a, { f: { content: 'f two!', mtime: T2024_03 }, 'd/x': { content: 'x', mtime: T2024_03 } });
    assert.equal((await remote(a, b, [])).code, 0);
    fs.rmSync(path.join(a, 'f'));
    fs.rmSync(path.join(a, 'd'), { recursive: true });
    let r = await remote(a, b, []);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(trash(b, 'deleted')), {
      d: '<dir>',
      'd/x': 'x',
      [`d${suffix(T2024_01)}`]: 'file d',
      f: 'f two!',
      [`f${suffix(T2024_01)}`]: 'f one',
    });
    r = await remote(a, b, ['--list-trash']);
    assert.equal(r.code, 0, explain(r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 6, r.stdout);
    assert.match(lines[1], /^target +deleted +2024-01-10 08:30:00 +6 +d +\(version 2024-01-10 08:30:00\)$/);
    assert.match(lines[2], /^target +deleted +2024-03-05 17:45:09 +1 +d\/x$/);
    assert.match(lines[3], /^target +deleted +2024-03-05 17:45:09 +6 +f$/);
    assert.match(lines[4], /^target +deleted +2024-01-10 08:30:00 +5 +f +\(version 2024-01-10 08:30:00\)$/);
    assert.match(lines[5], /^4 item\(s\), 18 bytes in the trash \(initiator 0, target 4\)\.$/);
    r = await remote(a, b, ['--restore=d', '--at=2024-02-01']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(b, 'd'), 'utf8'), 'file d');
    r = await remote(a, b, ['--restore=d']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(path.join(b, 'd')), { x: 'x' });
    assert.equal(fs.readFileSync(path.join(trash(b, 'backup'), 'd'), 'utf8'), 'file d');
    r = await remote(a, b, ['--summary']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(tree(a), { d: '<dir>', 'd/x': 'x', keep: 'k' });
    assert.match(r.stdout, /Initiator has 0 deletions\.\nTarget has 0 deletions\./);
  });
});

describe('temporary folders of killed runs', () => {
  const DAY = 24 * 3600;
  const make = (dir: string, name: string, ageSeconds: number, file = false) => {
    const p = path.join(dir, name);
    if (file) fs.writeFileSync(p, 'x');
    else {
      fs.mkdirSync(p);
      fs.writeFileSync(path.join(p, 'initiator'), 'a listing');
    }
    const t = Date.now() / 1000 - ageSeconds;
    fs.utimesSync(p, t, t);
  };

  test('ours a day old are removed; fresh ones, other names and files are kept', () => {
    const dir = scratchDir('osync-ts-sweep-');
    make(dir, 'osync-ts.list.AbC123', 2 * DAY);
    make(dir, 'osync-ts.probe.Q1w2E3', DAY + 60);
    make(dir, 'osync-ts.empty.XyZ789', 60);
    make(dir, 'osync-ts.list.toolong1', 2 * DAY);
    make(dir, 'osync-ts.list.FILE12', 2 * DAY, true);
    make(dir, 'osync-ts-test-abc', 2 * DAY);
    assert.deepEqual(sweepStaleTempDirs(dir).sort(), ['osync-ts.list.AbC123', 'osync-ts.probe.Q1w2E3']);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['osync-ts-test-abc', 'osync-ts.empty.XyZ789', 'osync-ts.list.FILE12', 'osync-ts.list.toolong1']);
  });

  test('the hourly purge of a run removes them from its TMPDIR, and the run leaves none of its own', async () => {
    const { a, b } = pair();
    const tmp = scratchDir('osync-ts-tmpdir-');
    make(tmp, 'osync-ts.list.Old123', 3 * DAY);
    writeTree(b, { gone: 'soon' });
    await sync(a, b, { TMPDIR: tmp });
    fs.rmSync(path.join(a, 'gone'));
    make(tmp, 'osync-ts.empty.Old456', 3 * DAY);
    fs.rmSync(path.join(a, '.osync_workdir', 'state', 'cleanup-quicksync_task'));
    const r = await sync(a, b, { TMPDIR: tmp });
    assert.match(r.log, /Removed 1 temporary folder\(s\) of earlier osync-ts runs that were killed: osync-ts\.empty\.Old456\./);
    assert.ok(!fs.existsSync(path.join(b, 'gone')), 'the run itself went through');
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('osync-ts.')), [], 'both leftovers gone, nothing of its own left');
  });
});
