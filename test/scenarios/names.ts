// End-to-end: odd file names through a full two-way sync, then deleted on one side:
// the deletion must reach the other side (soft delete), the name must never come back,
// and no name may ever make a command run.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { explain, quickSync, type OsyncResult } from '../support/osync.js';
import { nameKey, readTree, scenarioPairs, secondsAgo, type ScenarioPair, type TreeSpec, writeTree } from '../support/tree.js';

const ID = 'quicksync_task';
const T0 = secondsAgo(100_000);
const T1 = secondsAgo(5_000);

const pair = scenarioPairs('osync-ts-names-');
type Pair = ScenarioPair;

async function sync(p: Pair, args: string[] = [], env: Record<string, string> = {}): Promise<OsyncResult> {
  // cwd = the test root, so a name that ran `touch x` would leave x there.
  // Propagation is tested here; the deletion guard (guard-e2e.test.ts) is relaxed.
  const r = await quickSync(p.a, p.b, args, { MAX_DELETE_PERCENT: '100', ...env }, { cwd: p.root });
  assert.equal(r.code, 0, explain(r));
  assert.doesNotMatch(r.log, /\((WARN|ERROR|CRITICAL)\):/, explain(r));
  return r;
}

const exists = (f: string | Buffer) => {
  try {
    fs.lstatSync(f as string);
    return true;
  } catch {
    return false;
  }
};

/** Files named exactly `canary*` anywhere below dir (a name that *contains* it does not count). */
function canaries(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: Buffer) => {
    for (const n of fs.readdirSync(d as unknown as string, { encoding: 'buffer' })) {
      const p = Buffer.concat([d, Buffer.from('/'), n]);
      if (/^canary\d*$/.test(n.toString('latin1'))) found.push(p.toString('latin1'));
      if (fs.lstatSync(p as unknown as string).isDirectory()) walk(p);
    }
  };
  walk(Buffer.from(dir));
  return found;
}

/**
 * Sync `names` written on `from` to the other side, check both sides are equal, then
 * delete them all on `delOn` and check they are gone everywhere (in the other side's
 * trash), and stay gone on the next run.
 */
async function roundTrip(names: Array<string | Buffer>, opts: { from: 'a' | 'b'; delOn: 'a' | 'b' }): Promise<Pair> {
  const p = pair();
  const spec: Array<[string | Buffer, string]> = names.map((n, i) => [n, `content ${i}`]);
  writeTree(p[opts.from], [...spec, ['plain', 'plain']] as TreeSpec, { mtime: T0 });
  const keys = names.map((n) => nameKey(Buffer.isBuffer(n) ? n : Buffer.from(n)));
  await sync(p);
  const ta = readTree(p.a);
  const tb = readTree(p.b);
  assert.deepEqual(tb, ta, 'both replicas hold the same names and contents');
  for (const [i, k] of keys.entries()) assert.equal(ta[k], `content ${i}`, `[${JSON.stringify(k)}] synced`);
  await sync(p);
  assert.deepEqual(readTree(p.a), ta, 'second run changes nothing');
  assert.deepEqual(readTree(p.b), tb);

  const del = p[opts.delOn];
  const other = opts.delOn === 'a' ? p.b : p.a;
  for (const n of names) fs.rmSync(Buffer.concat([Buffer.from(del + '/'), Buffer.isBuffer(n) ? n : Buffer.from(n)]) as unknown as string);
  await sync(p);
  assert.deepEqual(readTree(p.a), { plain: 'plain' }, 'every odd name deleted on the initiator side');
  assert.deepEqual(readTree(p.b), { plain: 'plain' }, 'every odd name deleted on the target side');
  const trash = readTree(path.join(other, '.osync_workdir', 'deleted'), { skipWorkdir: false });
  for (const [i, k] of keys.entries()) assert.equal(trash[k], `content ${i}`, `[${JSON.stringify(k)}] in the trash`);
  await sync(p);
  assert.deepEqual(readTree(p.a), { plain: 'plain' }, 'deleted names do not come back');
  assert.deepEqual(readTree(p.b), { plain: 'plain' });
  assert.deepEqual(canaries(p.root), [], 'no name made a command run');
  return p;
}

const SHELL_NAMES = [
  ' leading space',
  'trailing space ',
  '  both  ',
  "it's",
  'say "hi"',
  '$HOME',
  '${HOME}x',
  '$(touch canary1)',
  '`touch canary2`',
  'x;touch canary3',
  '& touch canary4 &',
  '| touch canary5',
  '> canary6',
  '*star?',
  '*',
  '?',
  '[x]',
  'back\\slash',
  'trailing backslash\\',
  'literal \\#012 escape',
  '\\#134',
  'new\nline',
  'tab\there',
  'cr\rhere',
  '-rf',
  '--help',
  '--delete',
  '-',
  '+ plus',
  '- minus',
  '!bang',
  '.hidden',
  '..dots',
  '%s%n',
];

/** The scenarios, run against a local target or (remote) the same paths over ssh. */
export function nameScenarios(kind: 'local' | 'remote'): void {
  describe(`${kind} target: odd names: sync both ways, then delete`, { concurrency: 2 }, () => {
    test('shell metacharacters, quotes, wildcards, backslashes, newline, tab, leading dashes (initiator → target, deleted on initiator)', async () => {
      await roundTrip(SHELL_NAMES, { from: 'a', delOn: 'a' });
    });

    test('the same names from the target, deleted on the target', async () => {
      await roundTrip(SHELL_NAMES, { from: 'b', delOn: 'b' });
    });

    test('names starting with # or ; (comment lines for rsync --files-from)', async () => {
      await roundTrip(['# hash', '; semi', ';touch canary7', '#'], { from: 'a', delOn: 'b' });
    });

    test('tree files render names as rsync does (newline as \\#012, backslash before #ooo as \\#134)', async () => {
      const p = pair();
      writeTree(p.a, { 'new\nline': '1', 'literal \\#012 escape': '2', 'tab\there': '3', 'x y': '4' }, { mtime: T0 });
      await sync(p);
      const list = fs.readFileSync(path.join(p.state, `initiator-tree-after-${ID}`), 'latin1');
      assert.equal(list, 'literal \\#134#012 escape\nnew\\#012line\ntab\there\nx y\n');
      assert.equal(fs.readFileSync(path.join(p.b, 'literal \\#012 escape'), 'utf8'), '2', 'the literal name is not confused with a newline');
      assert.equal(fs.readFileSync(path.join(p.b, 'new\nline'), 'utf8'), '1');
    });

    test('unicode and non-UTF-8 names', async () => {
      await roundTrip(
        ['日本語', 'é', 'e\u0301 decomposed', 'emoji 😀', Buffer.from([0x66, 0xff, 0xfe, 0x67]), Buffer.from('caf\xe9 latin1', 'latin1'), Buffer.from([0xc3, 0x28])],
        { from: 'a', delOn: 'b' },
      );
    });

    test('" -> " in a file name next to a file named with the prefix (osync bug §15 item 15 must not happen)', async () => {
      const p = pair();
      writeTree(p.a, { arrow: 'the arrow file', 'arrow -> name': 'the arrow-name file', 'l -> x': 'file', l: { symlink: 'arrow -> name' } }, { mtime: T0 });
      await sync(p);
      const want = { arrow: 'the arrow file', 'arrow -> name': 'the arrow-name file', l: '-> arrow -> name', 'l -> x': 'file' };
      assert.deepEqual(readTree(p.b), want);
      const list = fs.readFileSync(path.join(p.state, `target-tree-after-${ID}`), 'latin1');
      assert.equal(list, 'arrow\narrow -> name\nl\nl -> x\n');

      fs.rmSync(path.join(p.a, 'arrow -> name'));
      await sync(p);
      assert.deepEqual(readTree(p.a), { arrow: 'the arrow file', l: '-> arrow -> name', 'l -> x': 'file' });
      assert.deepEqual(readTree(p.b), { arrow: 'the arrow file', l: '-> arrow -> name', 'l -> x': 'file' });
      assert.deepEqual(readTree(path.join(p.b, '.osync_workdir/deleted'), { skipWorkdir: false }), { 'arrow -> name': 'the arrow-name file' });
      await sync(p);
      assert.equal(fs.existsSync(path.join(p.a, 'arrow -> name')), false, 'not resurrected');
      assert.equal(fs.readFileSync(path.join(p.b, 'arrow'), 'utf8'), 'the arrow file');
    });

    test('a deleted top-level name does not hold back the same name in a subdir (osync bug §15 item 16 must not happen)', async () => {
      const p = pair();
      writeTree(p.a, { x: 'top x', '*': 'star', 'y/keep': 'k' }, { mtime: T0 });
      await sync(p);
      fs.rmSync(path.join(p.a, 'x'));
      fs.rmSync(path.join(p.a, '*'));
      writeTree(p.b, { 'sub/x': 'new sub x', 'sub/*': 'new sub star', 'y/z': 'matches *' }, { mtime: T1 });
      await sync(p);
      const want = { sub: '<dir>', 'sub/*': 'new sub star', 'sub/x': 'new sub x', y: '<dir>', 'y/keep': 'k', 'y/z': 'matches *' };
      assert.deepEqual(readTree(p.a), want, 'sub/x reached the initiator in the same run');
      assert.deepEqual(readTree(p.b), want);
    });

    test('200-byte name components and a deep path near PATH_MAX', async () => {
      const p = pair();
      const comp = (c: string) => c.repeat(200);
      const deep = Array.from({ length: 19 }, (_, i) => comp(String.fromCharCode(97 + i))).join('/');
      const full = path.join(p.a, deep, 'leaf');
      assert.ok(full.length > 3700 && full.length + '/.osync_workdir/deleted'.length < 4096, `path length ${full.length}`);
      writeTree(p.a, { [comp('n')]: 'long name', [`${deep}/leaf`]: 'deep leaf' }, { mtime: T0 });
      await sync(p);
      assert.equal(fs.readFileSync(path.join(p.b, comp('n')), 'utf8'), 'long name');
      assert.equal(fs.readFileSync(path.join(p.b, deep, 'leaf'), 'utf8'), 'deep leaf');
      await sync(p);
      assert.equal(fs.readFileSync(path.join(p.b, deep, 'leaf'), 'utf8'), 'deep leaf', 'second run: still there');
      // (deleting only the leaf inside directories that stay hits the nested-deletion
      // bug covered in sync-local.test.ts; here the whole chain goes)
      fs.rmSync(path.join(p.b, comp('a')), { recursive: true });
      fs.rmSync(path.join(p.b, comp('n')));
      await sync(p);
      assert.equal(exists(path.join(p.a, comp('a'))), false, 'deep deletion propagated');
      assert.equal(exists(path.join(p.a, comp('n'))), false);
      assert.equal(fs.readFileSync(path.join(p.a, '.osync_workdir/deleted', comp('n')), 'utf8'), 'long name');
      assert.equal(fs.readFileSync(path.join(p.a, '.osync_workdir/deleted', deep, 'leaf'), 'utf8'), 'deep leaf', 'the whole chain is in the trash');
    });
  });
}
