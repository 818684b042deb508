// The installed `osync` bin is the esbuild bundle (dist/osync.mjs and its chunks), not
// the TypeScript the other tests run: build it here and run it, including a path that
// loads a chunk on demand (execa, for the transfers) and one that does not (listings only).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './support/osync.js';
import { readTree, replicaPair, rmTree, secondsAgo, writeTree } from './support/tree.js';

const BIN = path.join(REPO_ROOT, 'dist', 'osync.mjs');
const roots: string[] = [];
after(() => roots.forEach(rmTree));

function runBin(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the built bin (dist/osync.mjs)', () => {
  before(() => {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'inherit' });
  });

  test('--version, a sync whose transfers load the process runner chunk, then a no-change run', () => {
    const v = runBin(['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^osync-ts \d+\.\d+\.\d+ \(osync 1\.3\.0 compatible\)\n$/);

    const { root, a, b } = replicaPair('osync-ts-bundle-');
    roots.push(root);
    // Written a while ago: files written in the second a run lists them are racily clean
    // (lib/state/files.ts), and the next run compares them instead of only listing.
    writeTree(a, { 'x.txt': 'x', 'd/y': 'y' }, { mtime: secondsAgo(100) });
    writeTree(b, { 'z z': 'z' }, { mtime: secondsAgo(100) });
    const log = path.join(root, 'run.log');
    // Its after state is written by the state thread, which runs a function of the bundle
    // from its source text (lib/state/background-write.ts): forced here on a small tree.
    const first = runBin([`--initiator=${a}`, `--target=${b}`], { LOGFILE: log, OSYNC_TS_TEST_STATE_THREAD_MIN_BYTES: '1' });
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}\n${fs.readFileSync(log, 'utf8')}`);
    assert.deepEqual(readTree(a), readTree(b));
    assert.deepEqual(Object.keys(readTree(b)).sort(), ['d', 'd/y', 'x.txt', 'z z']);
    assert.match(fs.readFileSync(log, 'utf8'), /Changes: initiator 1 created, 0 updated, 0 deleted; target 3 created/);
    const stateDir = path.join(a, '.osync_workdir', 'state');
    for (const side of ['initiator', 'target']) {
      const list = path.join(stateDir, `${side}-tree-after-quicksync_task`);
      assert.deepEqual(fs.readFileSync(list, 'latin1').split('\n').filter(Boolean), ['d', 'd/y', 'x.txt', 'z z']);
      // Our metadata, stamped with the list's size and mtime as the thread wrote them.
      const st = fs.statSync(list);
      const head = fs.readFileSync(`${list}.meta`, 'latin1').split('\n')[0];
      assert.ok(head.startsWith(`osync-ts-tree-meta 5 ${st.size} ${st.mtimeMs} `), head);
    }
    assert.deepEqual(fs.readdirSync(stateDir).filter((n) => /\.(staged|tmp)-/.test(n)), []);

    // Nothing changed (the second run records the listings' digests; the third only lists).
    // The roots' mtimes are set to this second first: the digest must not depend on
    // whether a listing ran in that same second (it did, through rsync's itemised root).
    const now = new Date();
    for (const r of [a, b]) fs.utimesSync(r, now, now);
    const second = runBin([`--initiator=${a}`, `--target=${b}`], { LOGFILE: log });
    assert.equal(second.code, 0, second.stderr);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1100);
    const third = runBin([`--initiator=${a}`, `--target=${b}`, '--verbose'], { LOGFILE: log });
    assert.equal(third.code, 0, third.stderr);
    assert.match(fs.readFileSync(log, 'utf8'), /Both replicas list exactly as the last run left them: nothing changed\./);
  });
});
