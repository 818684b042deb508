// Table tests of the pure planner (lib/plan/plan.ts): plain data in, exact actions out.
// No I/O. Actions are written compactly:
//   "copy i>t <reason>"  (+ " !" when it overwrites something on the destination)
//   "delete t <reason> <into>"     "skip i <reason>"
// each prefixed by the path ("p: copy i>t new").
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Side } from '../lib/config/types.js';
import type { Entry, Listing } from '../lib/detect/parse-listing.js';
import {
  ancestors,
  classify,
  collapse,
  contentConflicts,
  contentSuspects,
  expectedAfter,
  other,
  planSync,
  type Action,
  type BaseListing,
  type Plan,
  type PlanInput,
  type PlanPolicy,
} from '../lib/plan/plan.js';

// ---------------------------------------------------------------------------
// Helpers

const F = (mtime: number, size = 10, mode = '-rw-r--r--'): Entry => ({ type: 'f', size, mtime, mode });
const D = (mtime = 50, mode = 'drwxr-xr-x'): Entry => ({ type: 'd', size: 0, mtime, mode });
const L = (target: string, mtime = 50): Entry => ({ type: 'l', size: Buffer.byteLength(target, 'latin1'), mtime, mode: 'lrwxrwxrwx', target });

const POLICY: PlanPolicy = {
  prevalence: 'initiator',
  skipDeletion: [],
  syncType: 'bidirectional',
  checksum: false,
  preservePermissions: true,
  preserveExecutability: true,
};

type Rows = Array<[string, Entry]>;
type BaseRows = Array<[string, Entry | null]>;

interface Case {
  /** undefined = first run (no base at all) on that side */
  base?: { i?: BaseRows | null; t?: BaseRows | null } | null;
  i?: Rows;
  t?: Rows;
  policy?: Partial<PlanPolicy>;
  /** Paths each side could not list. */
  unlisted?: { i?: string[]; t?: string[] };
}

function input(c: Case): PlanInput {
  const b = (rows: BaseRows | null | undefined): BaseListing | null => (rows === null || rows === undefined ? null : new Map(rows));
  return {
    base: { initiator: c.base ? b(c.base.i) : null, target: c.base ? b(c.base.t) : null },
    now: { initiator: new Map(c.i ?? []) as Listing, target: new Map(c.t ?? []) as Listing },
    policy: { ...POLICY, ...c.policy },
    ...(c.unlisted ? { unlisted: { initiator: c.unlisted.i ?? [], target: c.unlisted.t ?? [] } } : {}),
  };
}

const short = (s: Side) => s[0];

function fmt(a: Action): string {
  if (a.kind === 'copy') return `${a.path}: copy ${short(a.from)}>${short(a.to)} ${a.reason}${a.overwrites ? ' !' : ''}`;
  if (a.kind === 'delete') return `${a.path}: delete ${short(a.on)} ${a.reason} ${a.into}`;
  return `${a.path}: skip ${short(a.on)} ${a.reason}`;
}

function run(c: Case): { plan: Plan; lines: string[]; in: PlanInput } {
  const inp = input(c);
  const plan = planSync(inp);
  return { plan, lines: plan.actions.map(fmt), in: inp };
}

function obj(m: Map<string, Entry | null>): Record<string, Entry | null> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** After a fully successful plan both sides must look the same (directory mtimes
 *  aside: the planner treats directories as equal whatever their mtimes). */
function assertConverges(inp: PlanInput, plan: Plan, msg = ''): void {
  const after = expectedAfter(inp, plan.actions, new Set());
  const view = (m: BaseListing) => obj(new Map([...m].map(([p, e]) => [p, e?.type === 'd' ? { ...e, mtime: 0 } : e])));
  assert.deepEqual(view(after.target), view(after.initiator), `expectedAfter differs between sides ${msg}`);
}

// ---------------------------------------------------------------------------
// The change matrix for one regular file "p".

// The state of p on one side, given the base entry B.
type St = 'absent' | 'new' | 'unchanged' | 'modified' | 'mode' | 'deleted';
const STATES: St[] = ['absent', 'new', 'unchanged', 'modified', 'mode', 'deleted'];
const B = F(100, 10);
// Each side's own versions: the target's are newer, so conflicts go to the target.
const VERSIONS: Record<Side, { new: Entry; modified: Entry; mode: Entry }> = {
  initiator: { new: F(200, 20), modified: F(210, 11), mode: F(100, 10, '-rw-------') },
  target: { new: F(300, 30), modified: F(310, 12), mode: F(100, 10, '-rw-rw-r--') },
};

function side(s: Side, st: St): { base: BaseRows; now: Rows } {
  const v = VERSIONS[s];
  switch (st) {
    case 'absent': return { base: [], now: [] };
    case 'new': return { base: [], now: [['p', v.new]] };
    case 'unchanged': return { base: [['p', B]], now: [['p', B]] };
    case 'modified': return { base: [['p', B]], now: [['p', v.modified]] };
    case 'mode': return { base: [['p', B]], now: [['p', v.mode]] };
    case 'deleted': return { base: [['p', B]], now: [] };
  }
}

// [initiator state, target state, actions, conflict?]
const MATRIX: Array<[St, St, string[], boolean?]> = [
  ['absent', 'absent', []],
  ['absent', 'new', ['p: copy t>i new']],
  ['absent', 'unchanged', ['p: copy t>i new']], // a copy that failed last time is retried
  ['absent', 'modified', ['p: copy t>i new']],
  ['absent', 'mode', ['p: copy t>i new']],
  ['absent', 'deleted', []],

  ['new', 'absent', ['p: copy i>t new']],
  ['new', 'new', ['p: copy t>i conflict-newer !'], true],
  ['new', 'unchanged', ['p: copy i>t modified !']],
  ['new', 'modified', ['p: copy t>i conflict-newer !'], true],
  ['new', 'mode', ['p: copy i>t conflict-newer !'], true], // mode-only side kept the old mtime
  ['new', 'deleted', ['p: copy i>t kept-over-deletion']],

  ['unchanged', 'absent', ['p: copy i>t new']],
  ['unchanged', 'new', ['p: copy t>i modified !']],
  ['unchanged', 'unchanged', []],
  ['unchanged', 'modified', ['p: copy t>i modified !']],
  ['unchanged', 'mode', ['p: copy t>i attributes !']],
  ['unchanged', 'deleted', ['p: delete i deleted deleted']],

  ['modified', 'absent', ['p: copy i>t new']],
  ['modified', 'new', ['p: copy t>i conflict-newer !'], true],
  ['modified', 'unchanged', ['p: copy i>t modified !']],
  ['modified', 'modified', ['p: copy t>i conflict-newer !'], true],
  ['modified', 'mode', ['p: copy i>t conflict-newer !'], true],
  ['modified', 'deleted', ['p: copy i>t kept-over-deletion']], // osync would delete it

  ['mode', 'absent', ['p: copy i>t new']],
  ['mode', 'new', ['p: copy t>i conflict-newer !'], true],
  ['mode', 'unchanged', ['p: copy i>t attributes !']],
  ['mode', 'modified', ['p: copy t>i conflict-newer !'], true],
  ['mode', 'mode', ['p: copy i>t attributes !']], // both chmod'ed differently: CONFLICT_PREVALANCE
  ['mode', 'deleted', ['p: copy i>t kept-over-deletion']],

  ['deleted', 'absent', []],
  ['deleted', 'new', ['p: copy t>i kept-over-deletion']],
  ['deleted', 'unchanged', ['p: delete t deleted deleted']],
  ['deleted', 'modified', ['p: copy t>i kept-over-deletion']], // osync would delete it
  ['deleted', 'mode', ['p: copy t>i kept-over-deletion']],
  ['deleted', 'deleted', []],
];

describe('change matrix: one regular file, every state pair', () => {
  test('the matrix covers all 36 pairs', () => {
    const seen = new Set(MATRIX.map(([a, b]) => `${a}/${b}`));
    for (const a of STATES) for (const b of STATES) assert.ok(seen.has(`${a}/${b}`), `${a}/${b}`);
    assert.equal(MATRIX.length, 36);
  });
  for (const [si, st, expected, conflict] of MATRIX) {
    test(`initiator ${si}, target ${st}`, () => {
      const I = side('initiator', si);
      const T = side('target', st);
      const { plan, lines, in: inp } = run({ base: { i: I.base, t: T.base }, i: I.now, t: T.now });
      assert.deepEqual(lines, expected);
      assert.deepEqual(plan.conflicts, conflict ? ['p'] : []);
      assert.deepEqual(plan.deletedOn, { initiator: si === 'deleted' ? ['p'] : [], target: st === 'deleted' ? ['p'] : [] });
      assertConverges(inp, plan);
      // And the result is stable: planning against expectedAfter finds nothing more.
      const after = expectedAfter(inp, plan.actions, new Set());
      const again = planSync({ base: after, now: { initiator: new Map(after.initiator) as Listing, target: new Map(after.target) as Listing }, policy: inp.policy });
      assert.deepEqual(again.actions, []);
    });
  }

  test('classify() names the states', () => {
    const base: BaseListing = new Map<string, Entry | null>([['u', B], ['m', B], ['x', B], ['d', B], ['n', null]]);
    const now: Listing = new Map([['u', B], ['m', F(101)], ['x', F(100, 10, '-rw-------')], ['new', B], ['n', B]]);
    const got = Object.fromEntries(['u', 'm', 'x', 'd', 'new', 'n', 'none'].map((p) => [p, classify(base, now, p, POLICY)]));
    assert.deepEqual(got, { u: 'unchanged', m: 'modified', x: 'modified', d: 'deleted', new: 'new', n: 'unknown', none: 'absent' });
    assert.equal(classify(null, now, 'u', POLICY), 'new', 'no base: everything present is new');
    assert.equal(classify(null, now, 'none', POLICY), 'absent');
    assert.equal(classify(base, now, 'x', { ...POLICY, preservePermissions: false }), 'unchanged');
  });

  test('other() and ancestors()', () => {
    assert.equal(other('initiator'), 'target');
    assert.equal(other('target'), 'initiator');
    assert.deepEqual(ancestors('a/b c/d'), ['a/b c', 'a']);
    assert.deepEqual(ancestors('a'), []);
    assert.deepEqual(ancestors('a -> b/c'), ['a -> b']);
  });
});

describe('mode changes under PRESERVE_PERMISSIONS=false', () => {
  const pol = { preservePermissions: false };
  test('non-executable mode changes are ignored (unchanged → a deletion goes through)', () => {
    for (const [si, st, expected] of [
      ['unchanged', 'mode', []],
      ['mode', 'unchanged', []],
      ['mode', 'mode', []],
      ['mode', 'deleted', ['p: delete i deleted deleted']],
      ['deleted', 'mode', ['p: delete t deleted deleted']],
    ] as Array<[St, St, string[]]>) {
      const I = side('initiator', si);
      const T = side('target', st);
      assert.deepEqual(run({ base: { i: I.base, t: T.base }, i: I.now, t: T.now, policy: pol }).lines, expected, `${si}/${st}`);
    }
  });
  test('executability changes still count (PRESERVE_EXECUTABILITY=true)', () => {
    const x = F(100, 10, '-rwxr-xr-x');
    assert.deepEqual(run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', B]], t: [['p', x]], policy: pol }).lines, ['p: copy t>i attributes !']);
    assert.deepEqual(run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', x]], t: [] , policy: pol }).lines, ['p: copy i>t kept-over-deletion']);
    // only one exec bit differs
    const ux = F(100, 10, '-rwxr--r--');
    assert.deepEqual(run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', ux]], t: [['p', B]], policy: pol }).lines, ['p: copy i>t attributes !']);
  });
  test('and are ignored too with PRESERVE_EXECUTABILITY=false', () => {
    const x = F(100, 10, '-rwxr-xr-x');
    const p2 = { preservePermissions: false, preserveExecutability: false };
    assert.deepEqual(run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', B]], t: [['p', x]], policy: p2 }).lines, []);
    assert.deepEqual(run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', x]], t: [], policy: p2 }).lines, ['p: delete i deleted deleted']);
  });
  test('executability is about files: a directory chmod +x is ignored', () => {
    const d1 = D(50, 'drw-r--r--');
    assert.deepEqual(run({ base: { i: [['d', D()]], t: [['d', D()]] }, i: [['d', D()]], t: [['d', d1]], policy: pol }).lines, []);
  });
  test('with PRESERVE_PERMISSIONS=true a directory chmod is propagated', () => {
    const d1 = D(50, 'drwx------');
    assert.deepEqual(run({ base: { i: [['d', D()]], t: [['d', D()]] }, i: [['d', D()]], t: [['d', d1]] }).lines, ['d: copy t>i attributes !']);
  });
});

describe('ties and CHECKSUM', () => {
  test('equal mtime, different size: CONFLICT_PREVALANCE wins', () => {
    for (const prevalence of ['initiator', 'target'] as const) {
      const from = short(prevalence);
      const to = short(other(prevalence));
      // created on both sides
      let r = run({ i: [['p', F(500, 1)]], t: [['p', F(500, 2)]], policy: { prevalence } });
      assert.deepEqual(r.lines, [`p: copy ${from}>${to} conflict-prevalence !`]);
      assert.deepEqual(r.plan.conflicts, ['p']);
      // modified on both sides
      r = run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', F(500, 1)]], t: [['p', F(500, 2)]], policy: { prevalence } });
      assert.deepEqual(r.lines, [`p: copy ${from}>${to} conflict-prevalence !`]);
      // different mtimes: the newer wins whatever the prevalence
      r = run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', F(501, 1)]], t: [['p', F(500, 2)]], policy: { prevalence } });
      assert.deepEqual(r.lines, ['p: copy i>t conflict-newer !']);
      // only one side changed: that side wins even when its mtime is older
      r = run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', B]], t: [['p', F(50, 3)]], policy: { prevalence } });
      assert.deepEqual(r.lines, ['p: copy t>i modified !']);
    }
  });
  test('equal mtime and size: nothing to do without CHECKSUM', () => {
    const r = run({ i: [['p', F(500, 1)]], t: [['p', F(500, 1)]] });
    assert.deepEqual(r.lines, []);
    assert.deepEqual(r.plan.conflicts, []);
  });
  test('CHECKSUM=true: equal-looking files are checksum-copied from the prevalence side', () => {
    for (const prevalence of ['initiator', 'target'] as const) {
      const dir = `${short(prevalence)}>${short(other(prevalence))}`;
      assert.deepEqual(run({ i: [['p', F(500, 1)]], t: [['p', F(500, 1)]], policy: { checksum: true, prevalence } }).lines, [`p: copy ${dir} checksum !`]);
      assert.deepEqual(
        run({ base: { i: [['p', B]], t: [['p', B]] }, i: [['p', B]], t: [['p', B]], policy: { checksum: true, prevalence } }).lines,
        [`p: copy ${dir} checksum !`],
      );
    }
    // never for directories and symlinks; real differences keep their usual reason
    assert.deepEqual(
      run({ i: [['d', D()], ['l', L('x')], ['p', F(1)]], t: [['d', D()], ['l', L('x')], ['p', F(2)]], policy: { checksum: true } }).lines,
      ['p: copy t>i conflict-newer !'],
    );
  });
});

describe('no metadata in the base (state written by osync.sh: paths only)', () => {
  const nb = { i: [['p', null]] as BaseRows, t: [['p', null]] as BaseRows };
  test('present on both: compared by mtime, as osync does', () => {
    const r = run({ base: nb, i: [['p', F(200)]], t: [['p', F(300)]] });
    assert.deepEqual(r.lines, ['p: copy t>i conflict-newer !']);
    assert.deepEqual(r.plan.conflicts, ['p']);
    assert.deepEqual(run({ base: nb, i: [['p', F(300)]], t: [['p', F(200)]] }).lines, ['p: copy i>t conflict-newer !']);
    assert.deepEqual(run({ base: nb, i: [['p', F(300, 1)]], t: [['p', F(300, 2)]], policy: { prevalence: 'target' } }).lines, ['p: copy t>i conflict-prevalence !']);
    assert.deepEqual(run({ base: nb, i: [['p', F(300)]], t: [['p', F(300)]] }).lines, []);
    assert.deepEqual(run({ base: nb, i: [['p', F(300, 10, '-rw-------')]], t: [['p', F(300)]], policy: { prevalence: 'target' } }).lines, ['p: copy t>i attributes !']);
  });
  test('deleted on one side: deleted on the other (nothing tells it was modified)', () => {
    let r = run({ base: nb, i: [['p', F(999)]], t: [] });
    assert.deepEqual(r.lines, ['p: delete i deleted deleted']);
    assert.deepEqual(r.plan.deletedOn, { initiator: [], target: ['p'] });
    r = run({ base: nb, i: [], t: [['p', F(999)]] });
    assert.deepEqual(r.lines, ['p: delete t deleted deleted']);
    assert.deepEqual(run({ base: nb, i: [], t: [] }).lines, []);
  });
  test('a directory deleted with its children: one deletion', () => {
    const base: BaseRows = [['d', null], ['d/x', null], ['d/y', null], ['d/y/z', null]];
    const now: Rows = [['d', D()], ['d/x', F(1)], ['d/y', D()], ['d/y/z', F(2)]];
    const r = run({ base: { i: base, t: base }, i: [], t: now });
    assert.deepEqual(r.lines, ['d: delete t deleted deleted']);
    assert.deepEqual(r.plan.deletedOn.initiator, ['d']);
  });
  test('a path only on one side and not in that base: new', () => {
    assert.deepEqual(run({ base: { i: [], t: [] }, i: [['q', F(1)]], t: [] }).lines, ['q: copy i>t new']);
    // known to the base on the side that has it, unknown to the other side's base
    assert.deepEqual(run({ base: { i: [['q', null]], t: [] }, i: [['q', F(1)]], t: [] }).lines, ['q: copy i>t new']);
  });
});

describe('first run (no base at all)', () => {
  test('union of both sides, newer wins, nothing deleted', () => {
    const r = run({
      base: null,
      i: [['a', F(1)], ['both', F(10)], ['same', F(5)], ['d', D()], ['d/x', F(3)]],
      t: [['b', F(2)], ['both', F(20)], ['same', F(5)], ['d', D(99)], ['d/y', F(4)]],
    });
    assert.deepEqual(r.lines, ['a: copy i>t new', 'b: copy t>i new', 'both: copy t>i conflict-newer !', 'd/x: copy i>t new', 'd/y: copy t>i new']);
    assert.deepEqual(r.plan.conflicts, ['both']);
    assert.deepEqual(r.plan.deletedOn, { initiator: [], target: [] });
    assertConverges(r.in, r.plan);
  });
  test('one side has a base, the other none: the side without one deletes nothing', () => {
    // target state lost: its listing is judged as all new
    const r = run({ base: { i: [['p', B], ['q', B]], t: null }, i: [['p', B]], t: [['q', B]] });
    assert.deepEqual(r.lines, ['p: copy i>t new', 'q: copy t>i kept-over-deletion']);
  });
  test('empty replicas: nothing', () => {
    assert.deepEqual(run({}).lines, []);
  });
});

describe('type changes', () => {
  const base2 = (rows: BaseRows) => ({ i: rows, t: rows });
  test('file → directory on one side', () => {
    const r = run({ base: base2([['p', B]]), i: [['p', D()], ['p/c', F(5)]], t: [['p', B]] });
    assert.deepEqual(r.lines, ['p: copy i>t modified !', 'p/c: copy i>t new']);
    assert.deepEqual(r.plan.conflicts, []);
    assertConverges(r.in, r.plan);
  });
  test('directory → file on one side: the old children go with the directory', () => {
    const rows: BaseRows = [['p', D()], ['p/c', F(5)], ['p/e', D()], ['p/e/f', F(6)]];
    const r = run({ base: base2(rows), i: [['p', F(300)]], t: rows as Rows });
    assert.deepEqual(r.lines, ['p: copy i>t modified !']);
    assert.deepEqual(r.plan.deletedOn, { initiator: ['p/c', 'p/e'], target: [] });
    assertConverges(r.in, r.plan);
  });
  test('file → symlink and symlink → directory', () => {
    assert.deepEqual(run({ base: base2([['p', B]]), i: [['p', B]], t: [['p', L('x')]] }).lines, ['p: copy t>i modified !']);
    const r = run({ base: base2([['p', L('x')]]), i: [['p', D()], ['p/c', F(1)]], t: [['p', L('x')]] });
    assert.deepEqual(r.lines, ['p: copy i>t modified !', 'p/c: copy i>t new']);
  });
  test('directory → symlink with children on one side', () => {
    const rows: BaseRows = [['p', D()], ['p/c', F(5)]];
    const r = run({ base: base2(rows), i: rows as Rows, t: [['p', L('elsewhere')]] });
    assert.deepEqual(r.lines, ['p: copy t>i modified !']);
    assertConverges(r.in, r.plan);
  });
  test('symlink retargeted on one side; same target with other mtimes is equal', () => {
    assert.deepEqual(run({ base: base2([['l', L('a')]]), i: [['l', L('a')]], t: [['l', L('b')]] }).lines, ['l: copy t>i modified !']);
    assert.deepEqual(run({ i: [['l', L('a', 1)]], t: [['l', L('a', 2)]] }).lines, []);
    assert.deepEqual(run({ i: [['l', L('a', 5)]], t: [['l', L('b', 1)]] }).lines, ['l: copy i>t conflict-newer !']);
  });
  test('different type changes on both sides: CONFLICT_PREVALANCE type wins, whatever the mtimes', () => {
    // initiator: p file → dir with a child; target: p file → newer symlink
    const c: Case = { base: base2([['p', B]]), i: [['p', D(1)], ['p/c', F(5)]], t: [['p', L('x', 999)]] };
    let r = run(c);
    assert.deepEqual(r.lines, ['p: copy i>t conflict-prevalence !', 'p/c: copy i>t new']);
    assert.deepEqual(r.plan.conflicts, ['p']);
    assertConverges(r.in, r.plan);
    // target prevails: its symlink replaces the initiator's directory, and the child
    // below that directory must not be copied to the target (it would recreate the
    // directory there through rsync's implied directories).
    r = run({ ...c, policy: { prevalence: 'target' } });
    assert.deepEqual(r.lines, ['p: copy t>i conflict-prevalence !']);
    assertConverges(r.in, r.plan);
  });
  test('file on one side, directory on the other, both new (first run)', () => {
    const c: Case = { i: [['x', F(5)]], t: [['x', D()], ['x/in', F(6)], ['x/sub', D()], ['x/sub/f', F(7)]] };
    let r = run(c);
    // the initiator's file wins; nothing of the target's directory is copied to the initiator
    assert.deepEqual(r.lines, ['x: copy i>t conflict-prevalence !']);
    assertConverges(r.in, r.plan);
    r = run({ ...c, policy: { prevalence: 'target' } });
    assert.deepEqual(r.lines, ['x: copy t>i conflict-prevalence !', 'x/in: copy t>i new', 'x/sub: copy t>i new', 'x/sub/f: copy t>i new']);
    assertConverges(r.in, r.plan);
  });
  test('directory replaced by file on one side while the other side adds content inside it', () => {
    // osync's §15/25 shape: the type change is newer than nothing; the new child would
    // recreate the directory, so it is left to the backup of the replaced directory.
    const rows: BaseRows = [['d', D()], ['d/old', F(5)]];
    const r = run({ base: base2(rows), i: [['d', F(300)]], t: [['d', D()], ['d/old', F(5)], ['d/new', F(400)]] });
    assert.deepEqual(r.lines, ['d: copy i>t modified !']);
    assertConverges(r.in, r.plan);
  });
  test('type change on one side, deleted on the other: kept', () => {
    const r = run({ base: base2([['p', B]]), i: [['p', D()], ['p/c', F(5)]], t: [] });
    assert.deepEqual(r.lines, ['p: copy i>t kept-over-deletion', 'p/c: copy i>t new']);
  });
  test('type change on one side, content change on the other: a conflict', () => {
    const r = run({ base: base2([['p', B]]), i: [['p', D(1)]], t: [['p', F(999)]] });
    assert.deepEqual(r.lines, ['p: copy i>t conflict-prevalence !']);
    assert.deepEqual(r.plan.conflicts, ['p']);
  });
  test('the same type change on both sides: directories are equal, children merge', () => {
    const r = run({ base: base2([['p', B]]), i: [['p', D(1)], ['p/a', F(1)]], t: [['p', D(2)], ['p/b', F(2)]] });
    assert.deepEqual(r.lines, ['p/a: copy i>t new', 'p/b: copy t>i new']);
  });
});

describe('deletion collapse', () => {
  test('collapse() keeps only the topmost deleted directory, sorted bytewise', () => {
    assert.deepEqual(collapse(['a/b', 'a b', 'a', 'a b/c', 'a-b/c', 'a/b/c']), ['a', 'a b', 'a-b/c']);
    // osync's regex-based walk fails this one: "a/b" after "a b" must be collapsed into "a"
    assert.deepEqual(collapse(['a', 'a b', 'a/b']), ['a', 'a b']);
    // metacharacters are literal: "a.c" does not swallow "abc/x"; "a+b/x" is under "a+b"
    assert.deepEqual(collapse(['a.c', 'abc/x', 'a+b', 'a+b/x', '*star', '*star/x']), ['*star', 'a+b', 'a.c', 'abc/x']);
    assert.deepEqual(collapse(['x', 'x']), ['x']);
    assert.deepEqual(collapse([]), []);
    // a prefix that is not a parent
    assert.deepEqual(collapse(['ab', 'abc/d']), ['ab', 'abc/d']);
  });
  test('a deleted directory with children gives one deletion; neighbours sorting between stay separate', () => {
    const rows: BaseRows = [['a', D()], ['a b', F(1)], ['a-b', F(2)], ['a/b', F(3)], ['a/b c', D()], ['a/b c/d', F(4)], ['ab', F(5)]];
    const r = run({ base: { i: rows, t: rows }, i: [['ab', F(5)]], t: rows as Rows });
    assert.deepEqual(r.lines, ['a: delete t deleted deleted', 'a b: delete t deleted deleted', 'a-b: delete t deleted deleted']);
    assert.deepEqual(r.plan.deletedOn.initiator, ['a', 'a b', 'a-b']);
    assertConverges(r.in, r.plan);
  });
  test('regex metacharacters in deleted names are plain text', () => {
    const rows: BaseRows = [['a.c', F(1)], ['abc', D()], ['abc/x', F(2)], ['a+b', D()], ['a+b/x', F(3)], ['*s', D()], ['*s/x', F(4)]];
    const r = run({ base: { i: rows, t: rows }, i: rows.filter(([p]) => p.startsWith('abc')) as Rows, t: rows as Rows });
    assert.deepEqual(r.lines, ['*s: delete t deleted deleted', 'a+b: delete t deleted deleted', 'a.c: delete t deleted deleted']);
  });
  test('deleted on both sides: nothing to do, both deleted lists have it', () => {
    const rows: BaseRows = [['d', D()], ['d/x', F(1)]];
    const r = run({ base: { i: rows, t: rows }, i: [], t: [] });
    assert.deepEqual(r.lines, []);
    assert.deepEqual(r.plan.deletedOn, { initiator: ['d'], target: ['d'] });
  });
  test('a directory deleted on one side while the other deleted only a child', () => {
    const rows: BaseRows = [['d', D()], ['d/x', F(1)], ['d/y', F(2)]];
    const r = run({ base: { i: rows, t: rows }, i: [], t: [['d', D()], ['d/y', F(2)]] });
    assert.deepEqual(r.lines, ['d: delete t deleted deleted']);
    assert.deepEqual(r.plan.deletedOn, { initiator: ['d'], target: ['d/x'] });
  });
});

describe('a directory deleted on one side, new or changed content inside it on the other', () => {
  const rows: BaseRows = [['d', D()], ['d/old1', F(1)], ['d/old2', F(2)], ['d/sub', D()], ['d/sub/old3', F(3)]];
  test('the new child is kept, the directory recreated, unchanged siblings deleted', () => {
    const r = run({ base: { i: rows, t: rows }, i: [], t: [...(rows as Rows), ['d/new', F(9)]] });
    assert.deepEqual(r.lines, [
      'd: copy t>i holds-kept-content',
      'd/new: copy t>i new',
      'd/old1: delete t deleted deleted',
      'd/old2: delete t deleted deleted',
      'd/sub: delete t deleted deleted',
    ]);
    assert.deepEqual(r.plan.deletedOn.initiator, ['d']);
    assertConverges(r.in, r.plan);
  });
  test('deeper: the whole chain of parents is recreated', () => {
    const r = run({ base: { i: rows, t: rows }, i: [], t: [...(rows as Rows), ['d/sub/n', D()], ['d/sub/n/f', F(9)]] });
    assert.deepEqual(r.lines, [
      'd: copy t>i holds-kept-content',
      'd/old1: delete t deleted deleted',
      'd/old2: delete t deleted deleted',
      'd/sub: copy t>i holds-kept-content',
      'd/sub/n: copy t>i new',
      'd/sub/n/f: copy t>i new',
      'd/sub/old3: delete t deleted deleted',
    ]);
    assertConverges(r.in, r.plan);
  });
  test('a modified child is kept the same way (mirror image: target deleted the directory)', () => {
    const mod: Rows = (rows as Rows).map(([p, e]) => (p === 'd/sub/old3' ? [p, F(77)] : [p, e]));
    const r = run({ base: { i: rows, t: rows }, i: mod, t: [] });
    assert.deepEqual(r.lines, [
      'd: copy i>t holds-kept-content',
      'd/old1: delete i deleted deleted',
      'd/old2: delete i deleted deleted',
      'd/sub: copy i>t holds-kept-content',
      'd/sub/old3: copy i>t kept-over-deletion',
    ]);
    assertConverges(r.in, r.plan);
  });
  test('SKIP_DELETION on that side: the siblings are skipped, the kept content still copied', () => {
    const r = run({ base: { i: rows, t: rows }, i: [], t: [...(rows as Rows), ['d/new', F(9)]], policy: { skipDeletion: ['target'] } });
    assert.deepEqual(r.lines, [
      'd: copy t>i holds-kept-content',
      'd/new: copy t>i new',
      'd/old1: skip t skip-deletion',
      'd/old2: skip t skip-deletion',
      'd/sub: skip t skip-deletion',
    ]);
  });
});

describe('SKIP_DELETION', () => {
  const rows: BaseRows = [['d', D()], ['d/x', F(1)], ['f', F(2)]];
  test('deletions on a skipped side become skip actions (collapsed the same way)', () => {
    let r = run({ base: { i: rows, t: rows }, i: [], t: rows as Rows, policy: { skipDeletion: ['target'] } });
    assert.deepEqual(r.lines, ['d: skip t skip-deletion', 'f: skip t skip-deletion']);
    // the deleted list is still recorded
    assert.deepEqual(r.plan.deletedOn.initiator, ['d', 'f']);
    // the other side is not affected
    r = run({ base: { i: rows, t: rows }, i: [], t: rows as Rows, policy: { skipDeletion: ['initiator'] } });
    assert.deepEqual(r.lines, ['d: delete t deleted deleted', 'f: delete t deleted deleted']);
    r = run({ base: { i: rows, t: rows }, i: rows as Rows, t: [], policy: { skipDeletion: ['initiator', 'target'] } });
    assert.deepEqual(r.lines, ['d: skip i skip-deletion', 'f: skip i skip-deletion']);
  });
  test('the skipped item is copied back on the next run (as osync does)', () => {
    const inp = input({ base: { i: rows, t: rows }, i: [], t: rows as Rows, policy: { skipDeletion: ['target'] } });
    const plan = planSync(inp);
    const after = expectedAfter(inp, plan.actions, new Set());
    assert.deepEqual(obj(after.target), obj(new Map(rows)));
    assert.deepEqual(obj(after.initiator), {});
    const next = planSync({ base: after, now: { initiator: new Map(), target: new Map(rows) as Listing }, policy: inp.policy });
    assert.deepEqual(next.actions.map(fmt), ['d: copy t>i new', 'd/x: copy t>i new', 'f: copy t>i new']);
  });
});

describe('SYNC_TYPE one-way (mirror)', () => {
  const src: Rows = [
    ['a', F(200)],              // older on the destination → copied
    ['b', F(200)],              // newer on the destination → left alone (rsync -u)
    ['c', F(200)],              // equal
    ['m', F(200, 10, '-rwxr-xr-x')], // mode differs → copied
    ['n', F(1)],                // missing on the destination
    ['q', D()], ['q/r', F(5)],  // a directory where the destination has a file
    ['w', F(7)],                // a file where the destination has a directory
  ];
  const dest: Rows = [
    ['a', F(100)],
    ['b', F(300)],
    ['c', F(200)],
    ['m', F(200)],
    ['q', F(9)],
    ['w', D()], ['w/v', F(8)],
    ['x', F(3)],               // extra → deleted into backup
    ['y', D()], ['y/z', F(4)], // extra directory → one deletion
  ];
  test('initiator2target', () => {
    const r = run({ base: { i: [['gone', B]], t: [['gone', B]] }, i: src, t: dest, policy: { syncType: 'initiator2target' } });
    assert.deepEqual(r.lines, [
      'a: copy i>t mirror !',
      'm: copy i>t mirror !',
      'n: copy i>t mirror',
      'q: copy i>t mirror !',
      'q/r: copy i>t mirror',
      'w: copy i>t mirror !',
      'x: delete t mirror backup',
      'y: delete t mirror backup',
    ]);
    assert.deepEqual(r.plan.conflicts, []);
    assert.deepEqual(r.plan.deletedOn, { initiator: [], target: [] });
  });
  test('target2initiator is the mirror image', () => {
    const r = run({ i: dest, t: src, policy: { syncType: 'target2initiator' } });
    assert.deepEqual(r.lines, [
      'a: copy t>i mirror !',
      'm: copy t>i mirror !',
      'n: copy t>i mirror',
      'q: copy t>i mirror !',
      'q/r: copy t>i mirror',
      'w: copy t>i mirror !',
      'x: delete i mirror backup',
      'y: delete i mirror backup',
    ]);
  });
  test('SKIP_DELETION on the destination: extra files are left (skip actions)', () => {
    const r = run({ i: src, t: dest, policy: { syncType: 'initiator2target', skipDeletion: ['target'] } });
    assert.deepEqual(r.lines.filter((l) => !l.includes('copy')), ['x: skip t skip-deletion', 'y: skip t skip-deletion']);
  });
  test('PRESERVE_PERMISSIONS=false: a mode-only difference is not copied', () => {
    const r = run({ i: [['m', F(200, 10, '-rw-------')]], t: [['m', F(200)]], policy: { syncType: 'initiator2target', preservePermissions: false } });
    assert.deepEqual(r.lines, []);
  });
  test('CONFLICT_PREVALANCE does not matter in one-way mode', () => {
    const r = run({ i: [['p', F(5, 1)]], t: [['p', F(5, 2)]], policy: { syncType: 'initiator2target', prevalence: 'target' } });
    assert.deepEqual(r.lines, ['p: copy i>t mirror !']);
  });
});

describe('files listed alike whose content may differ (same size, same mtime to the second)', () => {
  const base: BaseRows = [['u', B], ['r', B], ['both', B], ['one', B], ['new2', B]];
  const E = F(150, 10); // an edit: another mtime, the same size on both sides
  const c: Case = {
    base: { i: base.filter(([p]) => p !== 'new2'), t: base.filter(([p]) => p !== 'new2') },
    i: [['u', B], ['r', B], ['both', E], ['one', E], ['new2', F(160, 4)], ['d', D()]],
    t: [['u', B], ['r', B], ['both', E], ['one', E], ['new2', F(160, 4)], ['d', D()]],
  };
  const racy = (i: string[], t: string[]) => ({ initiator: new Set(i), target: new Set(t) });
  test('suspects: changed on both sides (or new on both) and listed alike, or racily clean on either; not unchanged ones, not directories', () => {
    assert.deepEqual(contentSuspects({ ...input(c), racy: racy(['r'], []) }), ['both', 'new2', 'one', 'r']);
    assert.deepEqual(contentSuspects({ ...input(c), racy: racy([], ['r']) }), ['both', 'new2', 'one', 'r']);
    assert.deepEqual(contentSuspects(input(c)), ['both', 'new2', 'one']);
  });
  test('none on a first run (two replicas filled beforehand are taken as they list), with CHECKSUM, one-way, or over a path-only base', () => {
    assert.deepEqual(contentSuspects(input({ ...c, base: null })), []);
    assert.deepEqual(contentSuspects(input({ ...c, policy: { checksum: true } })), []);
    assert.deepEqual(contentSuspects(input({ ...c, policy: { syncType: 'initiator2target' } })), []);
    const pathsOnly: BaseRows = base.map(([p]) => [p, null]);
    assert.deepEqual(contentSuspects(input({ ...c, base: { i: pathsOnly, t: pathsOnly } })), []);
  });
  test('found equal: nothing to do, and the run is settled', () => {
    const r = planSync({ ...input(c), racy: racy(['r'], ['r']), contentDiffers: new Set() });
    assert.deepEqual(r.actions, []);
  });
  test('found different: changed on one side only (racily clean there): copied from it, past rsync\'s size-and-mtime check', () => {
    const inp = { ...input(c), racy: racy([], ['r']), contentDiffers: new Set(['r']) };
    assert.deepEqual(contentConflicts(inp), []);
    const r = planSync(inp);
    assert.deepEqual(r.actions.map(fmt), ['r: copy t>i modified !']);
    assert.equal((r.actions[0] as Extract<Action, { kind: 'copy' }>).listedAlike, true);
    assert.deepEqual(r.conflicts, []);
  });
  test('found different, changed on both sides: a conflict, the newer to the nanosecond wins, else CONFLICT_PREVALANCE', () => {
    const inp = { ...input(c), racy: racy(['r'], ['r']), contentDiffers: new Set(['both', 'new2', 'r']) };
    assert.deepEqual(contentConflicts(inp), ['both', 'new2', 'r']);
    const r = planSync({ ...inp, newer: new Map([['both', 'target' as Side]]) });
    assert.deepEqual(r.actions.map(fmt), ['both: copy t>i conflict-newer !', 'new2: copy i>t conflict-prevalence !', 'r: copy i>t conflict-prevalence !']);
    assert.deepEqual(r.conflicts, ['both', 'new2', 'r']);
    assert.ok(r.actions.every((a) => a.kind === 'copy' && a.listedAlike));
    const t = planSync({ ...inp, policy: { ...POLICY, prevalence: 'target' } });
    assert.deepEqual(t.actions.map(fmt), ['both: copy t>i conflict-prevalence !', 'new2: copy t>i conflict-prevalence !', 'r: copy t>i conflict-prevalence !']);
  });
});

describe('paths a side could not list', () => {
  const rows: BaseRows = [['d', D()], ['d/x', F(1)], ['d/s', D()], ['d/s/y', F(2)], ['e', F(3)], ['f', B]];
  test('what is missing at or below them is not deleted, nor is anything done there; the rest syncs', () => {
    // The initiator could not read d (its children are missing) nor stat e.
    const r = run({
      base: { i: rows, t: rows },
      i: [['d', D(60, 'd---------')], ['f', F(200)]],
      t: [['d', D()], ['d/x', F(1)], ['d/s', D()], ['d/s/y', F(9)], ['d/n', F(4)], ['e', F(3)], ['f', B]],
      unlisted: { i: ['d', 'e'] },
    });
    assert.deepEqual(r.lines, ['f: copy i>t modified !']);
    assert.deepEqual(r.plan.deletedOn, { initiator: [], target: [] });
    assert.equal(r.plan.settled, false);
    // The state keeps the base there on both sides: the next run looks again.
    const after = expectedAfter(r.in, r.plan.actions, new Set());
    for (const s of ['initiator', 'target'] as const) {
      assert.deepEqual(obj(after[s]), { ...obj(new Map(rows)), f: F(200) });
    }
  });
  test('the same holds for the target, and in one-way mode (nothing mirrored away)', () => {
    const r = run({ base: { i: rows, t: rows }, i: rows as Rows, t: [['d', D()], ['f', B]], unlisted: { t: ['d', 'e'] } });
    assert.deepEqual(r.lines, []);
    const m = run({ i: [['d', D()], ['f', B]], t: rows as Rows, unlisted: { i: ['d', 'e'] }, policy: { syncType: 'initiator2target' } });
    assert.deepEqual(m.lines, []);
  });
});

describe('expectedAfter', () => {
  const rows: BaseRows = [['d', D()], ['d/x', F(1)], ['d/y', F(2)], ['f', B]];
  test('a successful plan gives both sides the same listing, the winner\'s entries', () => {
    const inp = input({ base: { i: rows, t: rows }, i: [['d', D()], ['d/x', F(1)], ['d/y', F(2)], ['f', F(200)], ['n', F(9)]], t: [['f', F(300)], ['d', D()], ['d/x', F(1)]] });
    const plan = planSync(inp);
    assert.deepEqual(plan.actions.map(fmt), ['d/y: delete i deleted deleted', 'f: copy t>i conflict-newer !', 'n: copy i>t new']);
    const after = expectedAfter(inp, plan.actions, new Set());
    assert.deepEqual(obj(after.initiator), { d: D(), 'd/x': F(1), f: F(300), n: F(9) });
    assert.deepEqual(obj(after.target), obj(after.initiator));
  });
  test('a failed copy leaves the base entry on both sides, so the next run retries it', () => {
    const inp = input({ base: { i: rows, t: rows }, i: rows as Rows, t: [['d', D()], ['d/x', F(1)], ['d/y', F(2)], ['f', F(300)]] });
    const plan = planSync(inp);
    assert.deepEqual(plan.actions.map(fmt), ['f: copy t>i modified !']);
    const after = expectedAfter(inp, plan.actions, new Set(plan.actions));
    assert.deepEqual(after.initiator.get('f'), B);
    assert.deepEqual(after.target.get('f'), B);
    const again = planSync({ ...inp, base: after });
    assert.deepEqual(again.actions.map(fmt), ['f: copy t>i modified !']);
  });
  test('a failed copy of something new leaves it out of both sides, so it is new again', () => {
    const inp = input({ base: { i: [], t: [] }, i: [['n', D()], ['n/c', F(1)]], t: [] });
    const plan = planSync(inp);
    const failedDir = plan.actions.find((a) => a.path === 'n')!;
    const after = expectedAfter(inp, plan.actions, new Set([failedDir]));
    // the dir and what lies below it take the base's (absent) state
    assert.deepEqual(obj(after.initiator), {});
    assert.deepEqual(obj(after.target), {});
    assert.deepEqual(planSync({ ...inp, base: after }).actions.map(fmt), ['n: copy i>t new', 'n/c: copy i>t new']);
  });
  test('a failed directory deletion restores the base entries of the directory and everything below it', () => {
    const inp = input({ base: { i: rows, t: rows }, i: [['f', B]], t: rows as Rows });
    const plan = planSync(inp);
    assert.deepEqual(plan.actions.map(fmt), ['d: delete t deleted deleted']);
    const after = expectedAfter(inp, plan.actions, new Set(plan.actions));
    for (const s of ['initiator', 'target'] as const) assert.deepEqual(obj(after[s]), obj(new Map(rows)), s);
    // the next run sees the deletion again
    assert.deepEqual(planSync({ ...inp, base: after }).actions.map(fmt), ['d: delete t deleted deleted']);
    // and the successful case removes the subtree from both
    const ok = expectedAfter(inp, plan.actions, new Set());
    assert.deepEqual(obj(ok.target), { f: B });
    assert.deepEqual(obj(ok.initiator), { f: B });
  });
  test('a failed action only affects its own path: the others are recorded as done', () => {
    const inp = input({ base: { i: rows, t: rows }, i: [['d', D()], ['d/x', F(5)], ['d/y', F(2)], ['f', B]], t: [['d', D()], ['d/x', F(1)], ['d/y', F(6)], ['f', B]] });
    const plan = planSync(inp);
    assert.deepEqual(plan.actions.map(fmt), ['d/x: copy i>t modified !', 'd/y: copy t>i modified !']);
    const after = expectedAfter(inp, plan.actions, new Set([plan.actions[0]]));
    assert.deepEqual(after.initiator.get('d/x'), F(1));
    assert.deepEqual(after.target.get('d/x'), F(1));
    assert.deepEqual(after.initiator.get('d/y'), F(6));
    assert.deepEqual(after.target.get('d/y'), F(6));
  });
  test('a failed replacement of a directory by a file restores the directory\'s subtree from the base', () => {
    const base: BaseRows = [['p', D()], ['p/c', F(5)]];
    const inp = input({ base: { i: base, t: base }, i: [['p', F(300)]], t: base as Rows });
    const plan = planSync(inp);
    assert.deepEqual(plan.actions.map(fmt), ['p: copy i>t modified !']);
    const after = expectedAfter(inp, plan.actions, new Set(plan.actions));
    for (const s of ['initiator', 'target'] as const) assert.deepEqual(obj(after[s]), obj(new Map(base)), s);
    const ok = expectedAfter(inp, plan.actions, new Set());
    for (const s of ['initiator', 'target'] as const) assert.deepEqual(obj(ok[s]), { p: F(300) }, s);
  });
  test('with an osync-written base (no metadata), a failed action leaves the path known but unknown', () => {
    const nb: BaseRows = [['p', null]];
    const inp = input({ base: { i: nb, t: nb }, i: [['p', F(1)]], t: [['p', F(2)]] });
    const plan = planSync(inp);
    const after = expectedAfter(inp, plan.actions, new Set(plan.actions));
    assert.equal(after.initiator.get('p'), null);
    assert.equal(after.target.get('p'), null);
  });
  test('skip actions leave each side as it was', () => {
    const inp = input({ base: { i: rows, t: rows }, i: [['f', B]], t: rows as Rows, policy: { skipDeletion: ['target'] } });
    const plan = planSync(inp);
    const after = expectedAfter(inp, plan.actions, new Set());
    assert.deepEqual(obj(after.target), obj(new Map(rows)));
    assert.deepEqual(obj(after.initiator), { f: B });
  });
});

describe('owner and group (PRESERVE_OWNER / PRESERVE_GROUP)', () => {
  const own = (uid: number, gid: number): Entry => ({ ...F(100), uid, gid });
  test('a chown on one side is copied from that side; ids are compared on the same side only', () => {
    // The two hosts may number the same user differently: 1000 here, 2000 there.
    const base = { i: [['f', own(1000, 100)]] as BaseRows, t: [['f', own(2000, 200)]] as BaseRows };
    const chownOnTarget = run({ base, i: [['f', own(1000, 100)]], t: [['f', own(2001, 200)]], policy: { preserveOwner: true, preserveGroup: true } });
    assert.deepEqual(chownOnTarget.lines, ['f: copy t>i attributes !']);
    const chgrpOnInitiator = run({ base, i: [['f', own(1000, 101)]], t: [['f', own(2000, 200)]], policy: { preserveOwner: true, preserveGroup: true } });
    assert.deepEqual(chgrpOnInitiator.lines, ['f: copy i>t attributes !']);
    const untouched = run({ base, i: [['f', own(1000, 100)]], t: [['f', own(2000, 200)]], policy: { preserveOwner: true, preserveGroup: true } });
    assert.deepEqual(untouched.lines, []);
  });

  test('ignored without PRESERVE_OWNER/GROUP, and when the base does not know the id (just copied)', () => {
    const base = { i: [['f', own(1000, 100)]] as BaseRows, t: [['f', F(100)]] as BaseRows };
    assert.deepEqual(run({ base, i: [['f', own(1, 1)]], t: [['f', own(5, 5)]] }).lines, []);
    assert.deepEqual(run({ base, i: [['f', own(1000, 100)]], t: [['f', own(5, 5)]], policy: { preserveOwner: true, preserveGroup: true } }).lines, []);
  });

  test('after a copy the destination owner is unknown, so the next run learns it instead of copying back', () => {
    const inp = input({ base: { i: [], t: [] }, i: [['n', own(1000, 100)]], t: [], policy: { preserveOwner: true } });
    const plan = planSync(inp);
    const after = expectedAfter(inp, plan.actions, new Set());
    assert.equal(after.target.get('n')!.uid, undefined);
    assert.equal(after.initiator.get('n')!.uid, 1000);
    const next = planSync({ base: after, now: { initiator: new Map([['n', own(1000, 100)]]), target: new Map([['n', own(0, 0)]]) }, policy: inp.policy });
    assert.deepEqual(next.actions, []);
  });
});
