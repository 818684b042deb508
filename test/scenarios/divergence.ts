// End-to-end: nothing diverges silently (issue 19). Run with a local target
// (divergence-local.test.ts) and with the target over the loopback sshd
// (divergence-remote.test.ts; the same paths, so every assertion on the target's files
// holds). Each test is what a user would see: files on both replicas, the trash, exit
// codes and log lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { explain, quickSync, type OsyncResult } from '../support/osync.js';
import { readTree, scenarioPairs, secondsAgo, writeTree } from '../support/tree.js';

const T0 = secondsAgo(100_000);

const pair = scenarioPairs('osync-ts-diverge-');

function ok(r: OsyncResult): OsyncResult {
  assert.equal(r.code, 0, explain(r));
  assert.doesNotMatch(r.log, /\((WARN|ERROR|CRITICAL)\):/, explain(r));
  return r;
}

const criticals = (r: OsyncResult) => r.log.split('\n').filter((l) => l.includes('(CRITICAL):'));

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
  });
}
