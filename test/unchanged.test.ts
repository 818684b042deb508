// lib/detect/unchanged.ts with plain data: a line is set aside only when it is, byte for
// byte, in all four lists (both listings now, both states from the last run).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { splitUnchanged, type LineSets } from '../lib/detect/unchanged.js';
import { mergeSorted } from '../lib/state/files.js';

const f = (name: string, size = 10, uid = 0) => `>f+++++++++ rw-r--r-- ${uid} 0 ${size} 2024/01/02-03:04:05 ${name}`;
const d = (name: string) => `cd+++++++++ rwxr-xr-x 0 0 4096 2024/01/02-03:04:05 ${name}/`;
const root = '.d..t...... rwxr-xr-x 0 0 4096 2024/01/02-03:04:05 ./';

function sets(all: string[], change: Partial<Record<'ni' | 'nt' | 'bi' | 'bt', (l: string[]) => string[]>> = {}): LineSets {
  const v = (k: 'ni' | 'nt' | 'bi' | 'bt') => (change[k] ?? ((l: string[]) => l))([...all]);
  return { now: { initiator: v('ni'), target: v('nt') }, base: { initiator: v('bi'), target: v('bt') } };
}

describe('splitUnchanged', () => {
  const all = [d('dir'), f('dir/a'), f('dir/b'), f('z z'), `cL+++++++++ rwxrwxrwx 0 0 1 2024/01/02-03:04:05 ln -> a -> b`];

  test('identical everywhere: every entry set aside, with its path; files counted', () => {
    const s = splitUnchanged(sets(all));
    assert.deepEqual(s.same.paths, ['dir', 'dir/a', 'dir/b', 'ln -> a', 'z z']);
    assert.deepEqual(s.same.lines.length, 5);
    assert.equal(s.same.files, 4, 'links count as files, directories do not');
    for (const l of [s.rest.now.initiator, s.rest.now.target, s.rest.base.initiator, s.rest.base.target]) assert.deepEqual(l, []);
  });

  for (const where of ['ni', 'nt', 'bi', 'bt'] as const) {
    test(`a line that differs only in ${where} goes to the planner from every list`, () => {
      const s = splitUnchanged(sets(all, { [where]: (l: string[]) => l.map((x) => (x === f('dir/a') ? f('dir/a', 11) : x)) }));
      assert.ok(!s.same.paths.includes('dir/a'));
      assert.equal(s.same.paths.length, 4);
      const rest = { ni: s.rest.now.initiator, nt: s.rest.now.target, bi: s.rest.base.initiator, bt: s.rest.base.target };
      for (const [k, l] of Object.entries(rest)) assert.deepEqual(l, [k === where ? f('dir/a', 11) : f('dir/a')], k);
    });

    test(`a path missing only from ${where} goes to the planner from the other three`, () => {
      const s = splitUnchanged(sets(all, { [where]: (l: string[]) => l.filter((x) => x !== f('dir/b')) }));
      assert.deepEqual(s.same.paths, ['dir', 'dir/a', 'ln -> a', 'z z']);
      const rest = { ni: s.rest.now.initiator, nt: s.rest.now.target, bi: s.rest.base.initiator, bt: s.rest.base.target };
      for (const [k, l] of Object.entries(rest)) assert.deepEqual(l, k === where ? [] : [f('dir/b')], k);
    });
  }

  test('any order in; the root, chatter and state-only lines go to the parser untouched', () => {
    const s = splitUnchanged({
      now: { initiator: [root, ...all].reverse(), target: ['', ...all, 'sending incremental file list'] },
      base: { initiator: [...all, 'P old'], target: [`U ${f('z z')}`, ...all.filter((x) => x !== f('z z'))] },
    });
    assert.deepEqual(s.same.paths, ['dir', 'dir/a', 'dir/b', 'ln -> a']);
    assert.deepEqual(s.rest.now.initiator.sort(), [root, f('z z')].sort());
    assert.deepEqual(s.rest.now.target.sort(), ['', 'sending incremental file list', f('z z')].sort());
    assert.deepEqual(s.rest.base.initiator.sort(), ['P old', f('z z')].sort());
    assert.deepEqual(s.rest.base.target, [`U ${f('z z')}`]);
  });

  test('a state in any order: the set-aside lines come out ordered by path, each with its own path', () => {
    const s = splitUnchanged({ ...sets(all), base: { initiator: [...all].reverse(), target: all } });
    assert.deepEqual(s.same.paths, ['dir', 'dir/a', 'dir/b', 'ln -> a', 'z z']);
    s.same.paths.forEach((p, i) => assert.ok(s.same.lines[i].endsWith(p) || s.same.lines[i].includes(` ${p} -> `) || s.same.lines[i].endsWith(`${p}/`), p));
  });

  test('the paths of the initiator state, when given, are used; a list of another length is not', () => {
    const given = all.map((_, i) => `p${i}`);
    assert.deepEqual(splitUnchanged({ ...sets(all), basePaths: given }).same.paths, given);
    assert.deepEqual(splitUnchanged({ ...sets(all), basePaths: given.slice(1) }).same.paths, ['dir', 'dir/a', 'dir/b', 'ln -> a', 'z z']);
  });

  test('one array for both states (the same text) splits as two equal copies do', () => {
    const change = (l: string[]) => l.map((x) => (x === f('dir/a') ? f('dir/a', 11) : x)).filter((x) => x !== f('z z'));
    for (const c of [{}, { ni: change }, { nt: change }] as const) {
      const copies = sets(all, c);
      const shared = { ...copies, base: { initiator: copies.base.initiator, target: copies.base.initiator } };
      const a = splitUnchanged(copies);
      const b = splitUnchanged(shared);
      assert.deepEqual(b, a);
      assert.equal(b.rest.base.initiator, b.rest.base.target, 'one state read, one rest list');
    }
  });

  test('with the state\'s paths, a listing in another order, with changes, splits as without them', () => {
    // rsync lists a directory's files before its subdirectories; the state is in path order.
    const names = ['a', 'a/b', 'a/b/c', 'a/d', 'a-b', 'a.b', 'b', 'b/x', 'b y', 'c'].sort();
    const base = names.map((n) => (n.includes('b/') || n === 'a/d' || n === 'c' || n === 'b y' ? f(n) : d(n)));
    const paths = [...names];
    const rsyncOrder = (l: string[]) => [...l].sort((x, y) => Number(x.startsWith('cd')) - Number(y.startsWith('cd')) || (x < y ? 1 : -1));
    const variants = [
      (l: string[]) => l,
      rsyncOrder,
      (l: string[]) => rsyncOrder(l.filter((x) => x !== f('a/b/c'))),
      (l: string[]) => rsyncOrder(l.map((x) => (x === f('b/x') ? f('b/x', 99) : x))).concat([f('new')]),
    ];
    for (const ni of variants) {
      for (const nt of variants) {
        const input: LineSets = { now: { initiator: ni(base), target: nt(base) }, base: { initiator: base, target: [...base].reverse() } };
        assert.deepEqual(splitUnchanged({ ...input, basePaths: paths }), splitUnchanged(input));
      }
    }
  });

  test('a replica listed as its state (null) splits as a listing of its state\'s lines does', () => {
    const state = [...all.slice(0, 3), `U ${f('z z')}`, 'P gone'];
    const change = (l: string[]) => l.filter((x) => x !== f('dir/b')).concat([f('new')]);
    for (const side of ['initiator', 'target'] as const) {
      for (const shared of [true, false]) {
        const other = side === 'initiator' ? 'target' : 'initiator';
        const bt = shared ? state : [...state];
        const listing = (side === 'initiator' ? state : bt).filter((x) => !/^[PU] /.test(x));
        const withListing: LineSets = { now: { [side]: [root, ...listing], [other]: change(all) } as LineSets['now'], base: { initiator: state, target: bt } };
        const asState: LineSets = { ...withListing, now: { ...withListing.now, [side]: null } };
        const a = splitUnchanged(withListing);
        const b = splitUnchanged(asState);
        assert.deepEqual(b.same, a.same, `${side} shared=${shared}`);
        assert.deepEqual(b.rest.base, a.rest.base);
        assert.deepEqual(b.rest.now[other], a.rest.now[other]);
        assert.deepEqual(b.rest.now[side], a.rest.now[side].filter((x) => x !== root), 'the root line is not tracked: the parser drops it anyway');
        assert.ok(b.same.paths.includes('dir/a') && !b.same.paths.includes('dir/b'));
      }
      // A state of listing lines only: the rest listed is the rest state itself (parsed once).
      const plain = splitUnchanged({ now: { [side]: null, [side === 'initiator' ? 'target' : 'initiator']: change(all) } as LineSets['now'], base: { initiator: all, target: all } });
      assert.equal(plain.rest.now[side], plain.rest.base[side]);
      assert.deepEqual(plain.rest.now[side], [f('dir/b')]);
    }
  });

  test('owners are part of the line: a chown on one side is not set aside', () => {
    const s = splitUnchanged(sets(all, { nt: (l) => l.map((x) => (x === f('z z') ? f('z z', 10, 1000) : x)) }));
    assert.ok(!s.same.paths.includes('z z'));
  });
});

describe('mergeSorted (the state lists: unchanged paths merged with the planned ones)', () => {
  test('two byte-sorted lists give their sorted union, a path in both once', () => {
    assert.deepEqual(mergeSorted([], []), []);
    assert.deepEqual(mergeSorted(['a'], []), ['a']);
    assert.deepEqual(mergeSorted([], ['a']), ['a']);
    assert.deepEqual(mergeSorted(['a', 'c', 'e'], ['b', 'c', 'd', 'f']), ['a', 'b', 'c', 'd', 'e', 'f']);
    // Byte order, not locale order: 'B' < 'a', 'a b' < 'a/b' < 'a\xe9'.
    assert.deepEqual(mergeSorted(['a', 'a/b'], ['B', 'a b', 'a\xe9']), ['B', 'a', 'a b', 'a/b', 'a\xe9']);
  });
  test('equals sorting the concatenation, on random lists', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let n = 0; n < 200; n++) {
      const pool = Array.from({ length: 1 + Math.floor(rnd() * 30) }, () => String.fromCharCode(...Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => 97 + Math.floor(rnd() * 4))));
      const a = [...new Set(pool.filter(() => rnd() < 0.5))].sort();
      const b = [...new Set(pool.filter(() => rnd() < 0.5))].sort();
      assert.deepEqual(mergeSorted(a, b), [...new Set([...a, ...b])].sort(), JSON.stringify({ a, b }));
    }
  });
});
