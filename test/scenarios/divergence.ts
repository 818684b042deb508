// End-to-end: nothing diverges silently (issue 19). Run with a local target
// (divergence-local.test.ts) and with the target over the loopback sshd
// (divergence-remote.test.ts; the same paths, so every assertion on the target's files
// holds). Each test is what a user would see: files on both replicas, the trash, exit
// codes and log lines.
import { after, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { explain, quickSync, runOsync, type OsyncResult } from '../support/osync.js';
import { remoteSshd } from '../support/remote-mode.js';
import { keyPath, sshdClientArgs, sshdUri } from '../support/sshd.js';
import { readTree, scenarioPairs, secondsAgo, writeTree } from '../support/tree.js';

const T0 = secondsAgo(100_000);

const pair = scenarioPairs('osync-ts-diverge-');
const immutable: string[] = [];
after(() => immutable.forEach((f) => spawnSync('chattr', ['-i', f])));

/** mtime in nanoseconds, and setting it (the listing shows whole seconds only). */
const mtimeNs = (f: string) => fs.statSync(f, { bigint: true }).mtimeNs;
const setMtimeNs = (f: string, ns: bigint) => fs.utimesSync(f, Number(ns) / 1e9, Number(ns) / 1e9);

/** An rsync that runs `hook` (sh) right before each listing osync-ts starts, then is the
 *  real rsync: a test's way to write a file in the very second a run lists it. */
function hookedRsync(dir: string): string {
  const file = path.join(dir, 'rsync-with-hook');
  const script = [
    '#!/bin/sh',
    `case "$*" in *'--out-format=%i %B %U %G %l %M %n%L'*) [ -n "$OSYNC_TEST_LISTING_HOOK" ] && sh -c "$OSYNC_TEST_LISTING_HOOK" ;; esac`,
    'exec rsync "$@"',
    '',
  ].join('\n');
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

const trashOf = (replica: string, kind = 'deleted') => {
  const d = path.join(replica, '.osync_workdir', kind);
  return fs.existsSync(d) ? readTree(d, { skipWorkdir: false }) : {};
};

function ok(r: OsyncResult): OsyncResult {
  assert.equal(r.code, 0, explain(r));
  assert.doesNotMatch(r.log, /\((WARN|ERROR|CRITICAL)\):/, explain(r));
  return r;
}

const criticals = (r: OsyncResult) => r.log.split('\n').filter((l) => l.includes('(CRITICAL):'));
const problems = (r: OsyncResult) => r.log.split('\n').filter((l) => /\((WARN|ERROR|CRITICAL)\):/.test(l));

/** Owner of a user's files, as the ids of `id -u`/`id -g` give them. */
function idsOf(user: string): { uid: number; gid: number } {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`No user ${user} here.`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function chownTree(dir: string, ids: { uid: number; gid: number }): void {
  fs.lchownSync(dir, ids.uid, ids.gid);
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.lstatSync(p).isDirectory()) chownTree(p, ids);
    else fs.lchownSync(p, ids.uid, ids.gid);
  }
}

export function divergenceScenarios(kind: 'local' | 'remote'): void {
  describe(`${kind} target: nothing diverges silently`, { concurrency: 2 }, () => {
    test('a replica inside the other, or the same directory through a symlink or `..`, is refused with one CRITICAL line; nothing is created', async () => {
      const p = pair();
      writeTree(p.a, { f: 'f', 'd/g': 'g' }, { mtime: T0 });
      fs.symlinkSync(p.a, path.join(p.root, 'link'));
      const cases: Array<[string, string, RegExp]> = [
        [p.a, path.join(p.a, 'sub'), /Target replica \[.*\/a\/sub\/\] lies inside (the )?initiator replica/],
        [p.a, path.join(p.a, 'd'), /Target replica \[.*\/a\/d\/\] lies inside (the )?initiator replica/],
        [p.a, path.join(p.root, 'link'), /same directory|is the initiator replica itself/],
        [p.a, `${p.root}/link/d/..`, /same directory|is the initiator replica itself/],
        [p.a, p.root, /Initiator replica \[.*\/a\/\] lies inside (the )?target replica/],
      ];
      for (const [a, b, want] of cases) {
        const r = await quickSync(a, b, [], { CREATE_DIRS: 'true' });
        assert.equal(r.code, 1, `${b}: ${explain(r)}`);
        const lines = criticals(r);
        assert.equal(lines.length, 1, explain(r));
        assert.match(lines[0], want, explain(r));
        assert.doesNotMatch(r.log, /Unexpected failure|    at /);
      }
      // Nothing synced into itself, no nested copy made; the locks are gone.
      assert.deepEqual(readTree(p.a), { d: '<dir>', 'd/g': 'g', f: 'f' });
      assert.equal(fs.existsSync(path.join(p.a, '.osync_workdir/lock')), false);
      assert.equal(fs.existsSync(path.join(p.root, '.osync_workdir/lock')), false);
      // A sibling directory with a common prefix is not "inside".
      ok(await quickSync(p.a, `${p.a}2`, [], { CREATE_DIRS: 'true' }));
      assert.deepEqual(readTree(`${p.a}2`), readTree(p.a));
    });

    test('a directory that cannot be listed is not a deletion: nothing below it is deleted or trashed on the other replica; a WARN names it; exit 2; once readable, nothing was lost', async () => {
      // Root reads everything, so the side that cannot read runs as another user: locally
      // osync-ts itself runs as `nobody`; remotely the target is the sshd's non-root user
      // (SUDO_EXEC=false), and the unreadable directory is on the target.
      const p = pair();
      const remote = kind === 'remote';
      const user = remote ? idsOf(remoteSshd().user) : idsOf('nobody');
      const logDir = path.join(p.root, 'log');
      fs.mkdirSync(logDir);
      writeTree(p.a, { keep: 'k', 'secret/x': 'x', 'secret/deep/y': 'y', 'secret/deep/z': 'z', 'open/w': 'w' }, { mtime: T0 });
      chownTree(p.root, user);
      const run = (extra: Record<string, string> = {}) => {
        const env = { LOGFILE: path.join(logDir, 'osync.log'), ...extra };
        if (!remote) return runOsync([`--initiator=${p.a}`, `--target=${p.b}`], env, { user });
        const sshd = remoteSshd();
        const args = [`--initiator=${p.a}`, `--target=${sshdUri(sshd, sshd.user, p.b)}`, `--rsakey=${keyPath(sshd, 'user')}`];
        return runOsync(args, { ...env, SUDO_EXEC: 'false', SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' ') });
      };
      const first = await run();
      assert.equal(first.code, 0, explain(first));
      const all = readTree(p.a);
      assert.deepEqual(readTree(p.b), all);
      fs.truncateSync(path.join(logDir, 'osync.log'));

      // The side that cannot read it: the initiator locally, the target remotely.
      const blind = remote ? p.b : p.a;
      const other = remote ? p.a : p.b;
      fs.chmodSync(path.join(blind, 'secret'), 0);
      writeTree(other, { 'open/new': 'n' }, { mtime: T0 + 10 });
      fs.lchownSync(path.join(other, 'open/new'), user.uid, user.gid);
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await run();
          assert.equal(r.code, 2, explain(r));
          const side = remote ? 'target' : 'initiator';
          assert.deepEqual(problems(r).filter((l) => !/osync finished with warnings/.test(l)).map((l) => l.replace(/^TIME: \d+ - /, '')), [
            `(WARN):Cannot list [secret] in ${side} replica (Permission denied (13)): nothing at or below it is synced or deleted on either replica this run.`,
          ]);
          // Nothing below it went anywhere on the other replica; the rest was synced.
          assert.equal(fs.readFileSync(path.join(other, 'secret/x'), 'utf8'), 'x');
          assert.equal(fs.readFileSync(path.join(other, 'secret/deep/y'), 'utf8'), 'y');
          assert.equal(fs.existsSync(path.join(other, '.osync_workdir/deleted')), false, 'nothing in the trash');
          assert.equal(fs.readFileSync(path.join(blind, 'open/new'), 'utf8'), 'n');
          fs.truncateSync(path.join(logDir, 'osync.log'));
        }
      } finally {
        fs.chmodSync(path.join(blind, 'secret'), 0o755);
      }
      const last = await run();
      assert.equal(last.code, 0, explain(last));
      assert.deepEqual(problems(last), []);
      assert.deepEqual(readTree(p.a), { ...all, 'open/new': 'n' });
      assert.deepEqual(readTree(p.b), readTree(p.a));
      assert.equal(fs.existsSync(path.join(other, '.osync_workdir/deleted')), false);
    });

    test('a deletion that fails (an immutable directory) leaves nothing of the item in the trash while it stays in place; the next run retries; once possible, it goes to the trash', async () => {
      const p = pair();
      writeTree(p.a, { 'locked/x': 'locked x', 'locked/y': 'y', other: 'o' }, { mtime: T0 });
      const env = { MAX_DELETE_PERCENT: '100' };
      ok(await quickSync(p.a, p.b, [], env));
      fs.rmSync(path.join(p.a, 'locked/x'));
      const dir = path.join(p.b, 'locked');
      const ch = spawnSync('chattr', ['+i', dir]);
      assert.equal(ch.status, 0, `chattr +i failed (the tests need a filesystem with immutable files): ${ch.stderr}`);
      immutable.push(dir);
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await quickSync(p.a, p.b, [], env);
          assert.equal(r.code, 1, explain(r));
          assert.match(r.log, /\(ERROR\):Cannot move \[locked\/x\] to deleted directory on target replica\./);
          assert.equal(fs.readFileSync(path.join(dir, 'x'), 'utf8'), 'locked x');
          // Not in place and in the trash at once (rsync copies what it cannot rename).
          assert.deepEqual(trashOf(p.b), {}, explain(r));
        }
      } finally {
        spawnSync('chattr', ['-i', dir]);
      }
      const r = await quickSync(p.a, p.b, [], env);
      assert.ok(r.code === 0 || r.code === 2, explain(r)); // 2: quick sync's resume tries used up
      assert.deepEqual(trashOf(p.b), { locked: '<dir>', 'locked/x': 'locked x' });
      assert.deepEqual(readTree(p.b), readTree(p.a));
      assert.deepEqual(readTree(p.a), { locked: '<dir>', 'locked/y': 'y', other: 'o' });
    });

    test('both replicas edited to the same size and mtime (to the second) with different content: a conflict, the newer to the nanosecond wins, else CONFLICT_PREVALANCE; the loser is kept in backup/', async () => {
      const p = pair();
      writeTree(p.a, { f: 'base', g: 'base', same: 'base' }, { mtime: T0 });
      ok(await quickSync(p.a, p.b));
      const T1 = BigInt(secondsAgo(500)) * 1_000_000_000n;
      writeTree(p.a, { f: 'aaaa1', g: 'aaaa2', same: 'both!' });
      writeTree(p.b, { f: 'bbbb1', g: 'bbbb2', same: 'both!' });
      setMtimeNs(path.join(p.a, 'f'), T1 + 200_000_000n);
      setMtimeNs(path.join(p.b, 'f'), T1 + 700_000_000n); // the target's edit is later
      for (const d of [p.a, p.b]) setMtimeNs(path.join(d, 'g'), T1); // a tie: the initiator prevails
      for (const d of [p.a, p.b]) setMtimeNs(path.join(d, 'same'), T1);
      const r = ok(await quickSync(p.a, p.b, ['--summary']));
      assert.match(r.stdout, /UPDATE << .*\/a\/f$/m);
      assert.match(r.stdout, /UPDATE >> .*\/b\/g$/m);
      const want = { f: 'bbbb1', g: 'aaaa2', same: 'both!' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      assert.deepEqual(trashOf(p.a, 'backup'), { f: 'aaaa1' });
      assert.deepEqual(trashOf(p.b, 'backup'), { g: 'bbbb2' });
      const again = ok(await quickSync(p.a, p.b, ['--summary']));
      assert.match(again.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\./);
    });

    test('an edit that keeps the size and lands in the second the last run listed the file is seen (racily clean): the next run compares its content and copies it', async () => {
      // osync's own MultipleConflictBackups test does this: rewrite a 7-byte file right after
      // a sync. Here the first edit is made as the run starts listing, the second one later
      // in that same second, so that both list alike; nothing else is different.
      const p = pair();
      writeTree(p.a, { FileA: 'FileA\n' }, { mtime: T0 });
      writeTree(p.b, { FileB: 'FileB\n' }, { mtime: T0 });
      const rsync = hookedRsync(p.root);
      const env = { RSYNC_EXECUTABLE: rsync };
      ok(await quickSync(p.a, p.b, [], env));
      const fileA = path.join(p.b, 'FileA');
      const fileB = path.join(p.a, 'FileB');
      // Run 2 lists the target's FileA+ (and the initiator's FileB+), written that very second,
      // and copies them over.
      const hook = `[ -e ${p.root}/hooked ] || { printf 'FileA+\\n' > ${fileA}; printf 'FileB+\\n' > ${fileB}; : > ${p.root}/hooked; }`;
      ok(await quickSync(p.a, p.b, [], { ...env, OSYNC_TEST_LISTING_HOOK: hook }));
      assert.equal(fs.readFileSync(path.join(p.a, 'FileA'), 'utf8'), 'FileA+\n');
      assert.equal(fs.readFileSync(path.join(p.b, 'FileB'), 'utf8'), 'FileB+\n');
      // Then rewritten, same size, later in the same second: the listings cannot tell.
      for (const [f, text] of [[fileA, 'FileA-\n'], [fileB, 'FileB-\n']]) {
        const before = mtimeNs(f);
        const second = before - (before % 1_000_000_000n);
        fs.writeFileSync(f, text);
        setMtimeNs(f, second + (before % 1_000_000_000n + 1_000_000_000n) / 2n);
      }
      const r = ok(await quickSync(p.a, p.b, ['--summary'], env));
      assert.match(r.stdout, /Initiator has 1 updates\.\nTarget has 1 updates\./, explain(r));
      const want = { FileA: 'FileA-\n', FileB: 'FileB-\n' };
      assert.deepEqual(readTree(p.a), want);
      assert.deepEqual(readTree(p.b), want);
      // The version each edit replaced is kept.
      assert.equal(trashOf(p.a, 'backup').FileA, 'FileA+\n');
      assert.equal(trashOf(p.b, 'backup').FileB, 'FileB+\n');
      const again = ok(await quickSync(p.a, p.b, ['--summary'], env));
      assert.match(again.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\./);
    });
  });
}
