// StateDir.stageAfter: the after state written while a run's changes are applied (a large
// one by a thread of its own) must be, byte for byte, what writeAfter writes, and must not
// be the state until it is committed. Real files in a temp dir.
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseItemLine } from '../lib/detect/parse-listing.js';
import type { BaseListing } from '../lib/plan/plan.js';
import { StateDir, type SameLines } from '../lib/state/files.js';
import { scratchDir } from './support/tree.js';

const THREAD_KNOB = 'OSYNC_TS_TEST_STATE_THREAD_MIN_BYTES';
const line = (name: string, size: number) => `>f+++++++++ rw-r--r-- 0 0 ${size} 2024/01/02-03:04:05 ${name}`;

function listing(names: string[]): BaseListing {
  return new Map(names.map((n, i) => parseItemLine(line(n, i))!));
}

/** A state like a run's: most paths set aside as unchanged, a few planned; the target's
 *  after state differs from the initiator's by one path (a deletion that failed there). */
function runLike(): { after: { initiator: BaseListing; target: BaseListing }; same: SameLines } {
  const samePaths = Array.from({ length: 3000 }, (_, i) => `dir ${i % 7}/file ${String(i).padStart(5, '0')} é`).sort();
  const same = { paths: samePaths, lines: samePaths.map((p, i) => line(p, 1000 + i)) };
  const planned = ['-leading dash', 'new\\#012line', 'zz/last'];
  return { after: { initiator: listing(planned), target: listing([...planned, 'kept only on target']) }, same };
}

/** Every file of a state dir and its bytes. */
function files(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((n) => [n, fs.readFileSync(path.join(dir, n), 'latin1')]));
}

describe('StateDir.stageAfter, commitStaged, discardStaged', () => {
  afterEach(() => {
    delete process.env[THREAD_KNOB];
  });

  for (const how of ['on the main thread', 'by a thread of its own'] as const) {
    test(`written ${how}: not in place before commit; then the files writeAfter writes, mtime stamps aside`, async () => {
      if (how === 'by a thread of its own') process.env[THREAD_KNOB] = '1';
      const { after, same } = runLike();
      const digests = { initiator: 'a'.repeat(64), target: '-' };
      const written = new StateDir(scratchDir('state-written'), 'id', false);
      written.ensure();
      written.writeAfter('initiator', after.initiator, digests.initiator, same);
      written.writeAfter('target', after.target, digests.target, same);

      const staged = new StateDir(scratchDir('state-staged'), 'id', false);
      staged.ensure();
      staged.stageAfter(after, digests, same);
      assert.equal(fs.existsSync(staged.name('initiator', 'tree-after')), false, 'nothing is the state before commit');
      const order: string[] = [];
      await staged.commitStaged(() => order.push(fs.existsSync(staged.name('target', 'tree-after')) ? 'target already there' : 'initiator only'));
      assert.deepEqual(order, ['initiator only'], 'commit puts the initiator in place first, then calls back, then the target');

      // The metadata's first line is stamped with its own list's size and mtime.
      const unstamp = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.replace(/^(osync-ts-tree-meta \d+ \d+) \S+ /, '$1 <mtime> ')]));
      assert.deepEqual(unstamp(files(staged.dir)), unstamp(files(written.dir)));
      assert.deepEqual(Object.keys(files(staged.dir)), ['initiator-tree-after-id', 'initiator-tree-after-id.meta', 'target-tree-after-id', 'target-tree-after-id.meta'], 'no temporary file left');
      // And it reads back: the stamps match the lists, the digest is kept.
      assert.equal(staged.readDigest('initiator'), digests.initiator);
      assert.equal(staged.readDigest('target'), undefined);
      const back = staged.readBase('target')!;
      assert.equal(back.size, after.target.size + same.paths.length);
      assert.deepEqual(back.get('kept only on target'), after.target.get('kept only on target'));
    });

    test(`discarded ${how}: the state from before stays, no temporary file is left`, async () => {
      if (how === 'by a thread of its own') process.env[THREAD_KNOB] = '1';
      const { after, same } = runLike();
      const state = new StateDir(scratchDir('state-discard'), 'id', false);
      state.ensure();
      state.writeAfter('initiator', listing(['before']), '-');
      state.writeAfter('target', listing(['before']), '-');
      const before = files(state.dir);
      state.stageAfter(after, { initiator: '-', target: '-' }, same);
      await state.discardStaged();
      assert.deepEqual(files(state.dir), before);
    });
  }
});

test('removeLeftovers: temporary files of a dead run of this task go, nothing else', () => {
  const state = new StateDir(scratchDir('state-leftovers'), 'id', false);
  state.ensure();
  const dead = 999_999_999; // beyond any pid_max
  const names = {
    gone: [`initiator-tree-after-id.staged-${dead}`, `target-tree-after-id.meta.staged-${dead}`, `resume-count-id.tmp-${dead}`, `initiator-deleted-list-id-dry.tmp-${dead}`],
    kept: [
      'initiator-tree-after-id',
      `initiator-tree-after-id.staged-${process.pid}`, // a live run's
      `initiator-tree-after-my-id.tmp-${dead}`, // another task's (INSTANCE_ID my-id)
      `notes-id.tmp-${dead}`, // not a state file
    ],
  };
  for (const n of [...names.gone, ...names.kept]) fs.writeFileSync(path.join(state.dir, n), 'x');
  state.removeLeftovers();
  assert.deepEqual(fs.readdirSync(state.dir).sort(), [...names.kept].sort());

  // An INSTANCE_ID that itself ends in -dry.
  const dryish = new StateDir(scratchDir('state-leftovers'), 'nightly-dry', false);
  dryish.ensure();
  for (const n of [`initiator-tree-after-nightly-dry.tmp-${dead}`, `initiator-tree-after-nightly-dry-dry.meta.tmp-${dead}`]) fs.writeFileSync(path.join(dryish.dir, n), 'x');
  dryish.removeLeftovers();
  assert.deepEqual(fs.readdirSync(dryish.dir), []);
});
