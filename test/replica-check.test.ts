// The replica check done in this process for local replicas (lib/replica-check.ts
// checkLocally): the same answers as the shell script it stands in for, and a mount
// identity equal to df's, checked against the real df on this machine.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkLocally, mountOf, parseIdentity } from '../lib/replica-check.js';
import { explain, quickSync } from './support/osync.js';
import { replicaPair, rmTree, tmpDir, writeTree } from './support/tree.js';

const roots: string[] = [];
after(() => roots.forEach(rmTree));

/** df -P's filesystem and mount point columns for a path. */
function dfIdentity(p: string): string {
  const line = execFileSync('df', ['-P', '-k', '--', p]).toString().trim().split('\n').pop()!;
  return parseIdentity(`fsid ${line}`)!;
}

function args(root: string, o: { create?: boolean; space?: boolean; rsync?: string } = {}): string[] {
  const work = path.join(root, '.osync_workdir');
  return [root, work, path.join(work, 'state'), String(o.create ?? false), String(o.space ?? false), o.rsync ?? 'rsync'];
}

describe('local replica check in-process', () => {
  test('the mount identity is the one df -P gives', () => {
    for (const p of ['/', os.tmpdir(), process.cwd(), '/dev/shm'].filter((x) => fs.existsSync(x))) {
      const m = mountOf(p);
      assert.ok(m, p);
      assert.equal(`${m.source} on ${m.point}`, dfIdentity(p), p);
    }
  });

  test('an existing root: work, state and tmp dirs are made; identity and free space as df', () => {
    const root = tmpDir('osync-ts-check-');
    roots.push(root);
    const res = checkLocally(args(root, { space: true }), null);
    assert.ok(res);
    assert.equal(res.exitCode, 0);
    for (const d of ['.osync_workdir/state', '.osync_workdir/tmp']) assert.ok(fs.statSync(path.join(root, d)).isDirectory(), d);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines[0], 'created-work');
    assert.equal(parseIdentity(lines.find((l) => l.startsWith('fsid '))), dfIdentity(root));
    const dfFree = Number(execFileSync('df', ['-P', '-k', '--', root]).toString().trim().split('\n').pop()!.split(/\s+/)[3]);
    const ours = Number(lines.find((l) => l.startsWith('df '))!.split(/\s+/)[4]);
    assert.ok(Math.abs(ours - dfFree) < 100_000, `free space ${ours} vs df ${dfFree}`);
    // A second check finds everything in place and says nothing but the identity.
    assert.deepEqual(checkLocally(args(root), null)!.stdout.trim().split('\n').length, 1);
  });

  test('missing root: refused without CREATE_DIRS, created with it', () => {
    const base = tmpDir('osync-ts-check-');
    roots.push(base);
    const root = path.join(base, 'not', 'yet');
    assert.deepEqual(checkLocally(args(root), null), { exitCode: 3, stdout: 'missing\n', stderr: '' });
    assert.ok(!fs.existsSync(root));
    const res = checkLocally(args(root, { create: true }), null)!;
    assert.equal(res.exitCode, 0);
    assert.deepEqual(res.stdout.split('\n').slice(0, 2), ['created', 'created-work']);
    assert.ok(fs.statSync(path.join(root, '.osync_workdir', 'state')).isDirectory());
  });

  test('rsync not found; a root that is a file; an identity unlike the recorded one is left to df', () => {
    const base = tmpDir('osync-ts-check-');
    roots.push(base);
    assert.equal(checkLocally(args(base, { rsync: 'no-such-rsync-here' }), null)!.stdout, 'no-rsync\n');
    assert.equal(checkLocally(args(base, { rsync: '/bin/no-such-rsync' }), null)!.stdout, 'no-rsync\n');
    assert.equal(checkLocally(args(base, { rsync: execFileSync('sh', ['-c', 'command -v rsync']).toString().trim() }), null)!.exitCode, 0);
    const file = path.join(base, 'file');
    fs.writeFileSync(file, 'x');
    assert.equal(checkLocally(args(file), null)!.stdout, 'missing\n');
    assert.equal(checkLocally(args(base), 'some-other-disk on /elsewhere'), null);
    assert.equal(checkLocally(args(base), dfIdentity(base))!.exitCode, 0);
  });

  test('a later run (checked in-process) still warns about free space, exit 2', async () => {
    const { root, a, b } = replicaPair('osync-ts-check-');
    roots.push(root);
    writeTree(a, { f: 'x' });
    const first = await quickSync(a, b);
    assert.equal(first.code, 0, explain(first));
    const r = await quickSync(a, b, [], { MINIMUM_SPACE: '999999999999' });
    assert.equal(r.code, 2, explain(r));
    assert.match(r.log, /\(WARN\):There is not enough free space on local replica \[/);
  });
});
