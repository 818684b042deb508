// The deletion guard as plain data: (base, listings now, plan from the real planner,
// limits) → verdict. Each reason, the thresholds at their boundary, renamed
// directories counted as moves, --force, first runs and one-way syncs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Side, SyncType } from '../lib/config/types.js';
import type { Entry, Listing } from '../lib/detect/parse-listing.js';
import { checkGuards, checkVanishedRoots, countDeletions, refusalAdvice, type GuardInput } from '../lib/plan/guards.js';
import { planSync, type BaseListing } from '../lib/plan/plan.js';

const T0 = 1_700_000_000;
const file = (size = 1, mtime = T0): Entry => ({ type: 'f', size, mtime, mode: '-rw-r--r--' });
const dir = (): Entry => ({ type: 'd', size: 0, mtime: T0, mode: 'drwxr-xr-x' });
const link = (target: string): Entry => ({ type: 'l', size: target.length, mtime: T0, mode: 'lrwxrwxrwx', target });

/** n files f0..f(n-1) (and their parent dirs) below `prefix`. */
function files(n: number, prefix = ''): Listing {
  const m: Listing = new Map();
  if (prefix) m.set(prefix.replace(/\/$/, ''), dir());
  for (let i = 0; i < n; i++) m.set(`${prefix}f${i}`, file(i + 1));
  return m;
}
const merge = (...ls: Listing[]): Listing => new Map(ls.flatMap((l) => [...l]));
const without = (l: Listing, pred: (p: string) => boolean): Listing => new Map([...l].filter(([p]) => !pred(p)));

interface Case {
  base: Record<Side, Listing | null>;
  now: Record<Side, Listing>;
  syncType?: SyncType;
  percent?: number;
  count?: number;
  force?: boolean;
  identity?: GuardInput['identity'];
  roots?: GuardInput['roots'];
  skipDeletion?: Side[];
  /** DELETE_GUARD_MIN_FILES; 1 here unless given, so the other rules are tested on small trees. */
  minFiles?: number;
}

function verdict(c: Case) {
  const syncType = c.syncType ?? 'bidirectional';
  const base = c.base as Record<Side, BaseListing | null>;
  const plan = planSync({
    base,
    now: c.now,
    policy: { prevalence: 'initiator', skipDeletion: c.skipDeletion ?? [], syncType, checksum: false, preservePermissions: true, preserveExecutability: true },
  });
  return checkGuards({
    plan,
    base,
    now: c.now,
    syncType,
    limits: { maxDeletePercent: c.percent ?? 50, maxDeleteCount: c.count ?? 0, minFiles: c.minFiles ?? 1 },
    identity: c.identity,
    roots: c.roots,
    force: c.force ?? false,
  });
}

/** Both sides held `before`; the initiator now holds `after`, the target still `before`. */
function initiatorChanged(before: Listing, after: Listing, extra: Partial<Case> = {}): Case {
  return { base: { initiator: before, target: before }, now: { initiator: after, target: before }, ...extra };
}

const kinds = (v: ReturnType<typeof verdict>) => v.reasons.map((r) => `${r.kind}:${r.side}`);

describe('deletion guard: MAX_DELETE_PERCENT', () => {
  const ten = files(10);
  const deleting = (n: number) => without(ten, (p) => Number(p.slice(1)) < n);

  test('50% of the files is allowed, 60% is refused with the numbers named', () => {
    const ok = verdict(initiatorChanged(ten, deleting(5)));
    assert.deepEqual(kinds(ok), []);
    assert.equal(ok.ok, true);
    assert.equal(ok.deletions.target, 5);
    const no = verdict(initiatorChanged(ten, deleting(6)));
    assert.equal(no.ok, false);
    assert.deepEqual(kinds(no), ['delete-percent:target']);
    assert.equal(no.reasons[0].message, 'The plan would delete 6 of the 10 files on the target replica (60%), more than MAX_DELETE_PERCENT=50%.');
  });

  test('the threshold is configurable; 100 never trips on a percentage; 0 refuses any deletion', () => {
    assert.equal(verdict(initiatorChanged(ten, deleting(3), { percent: 30 })).ok, true);
    assert.deepEqual(kinds(verdict(initiatorChanged(ten, deleting(4), { percent: 30 }))), ['delete-percent:target']);
    assert.equal(verdict(initiatorChanged(ten, deleting(9), { percent: 100 })).ok, true);
    assert.deepEqual(kinds(verdict(initiatorChanged(ten, deleting(1), { percent: 0 }))), ['delete-percent:target']);
  });

  test('directories do not count; a deleted directory counts as every file below it', () => {
    // 8 files under d/ (one collapsed "delete d" action) and 2 at the top: 8 of 10.
    const before = merge(files(8, 'd/'), files(2));
    const after = without(before, (p) => p === 'd' || p.startsWith('d/'));
    const v = verdict(initiatorChanged(before, after));
    assert.equal(v.deletions.target, 8);
    assert.match(v.reasons[0].message, /delete 8 of the 10 files on the target replica \(80%\)/);
    // Empty directories alone are not files: deleting 3 empty dirs out of 3 dirs + 2 files passes.
    const dirs = merge(new Map([['e1', dir()], ['e2', dir()], ['e3', dir()]]), files(2));
    assert.equal(verdict(initiatorChanged(dirs, files(2))).ok, true);
  });

  test('symlinks count as files', () => {
    const before: Listing = new Map([['l1', link('x')], ['l2', link('y')], ['l3', link('z')], ['f', file()]]);
    const v = verdict(initiatorChanged(before, new Map([['f', file()]])));
    assert.equal(v.deletions.target, 3);
    assert.deepEqual(kinds(v), ['delete-percent:target']);
  });

  test('deletions skipped by SKIP_DELETION do not count', () => {
    assert.equal(verdict(initiatorChanged(ten, deleting(8), { skipDeletion: ['target'] })).ok, true);
  });
});

describe('deletion guard: DELETE_GUARD_MIN_FILES (default 10)', () => {
  const floor = { minFiles: 10 };
  const deleting = (l: Listing, n: number) => without(l, (p) => Number(p.slice(1)) < n);

  test('below the floor the percentage rule does not refuse: 1 of 1, 9 of 9 files', () => {
    assert.equal(verdict(initiatorChanged(files(1), new Map(), floor)).ok, true);
    assert.equal(verdict(initiatorChanged(files(9), new Map(), floor)).ok, true);
    assert.equal(verdict(initiatorChanged(files(12), deleting(files(12), 9), floor)).ok, true);
  });

  test('from the floor on it does: 10 of 10, 10 of 12 files', () => {
    assert.deepEqual(kinds(verdict(initiatorChanged(files(10), new Map(), floor))), ['emptied:initiator', 'delete-percent:target']);
    assert.deepEqual(kinds(verdict(initiatorChanged(files(12), deleting(files(12), 10), floor))), ['delete-percent:target']);
  });

  test('an emptied replica is refused only when the floor is reached on the other replica', () => {
    const two = files(2);
    assert.equal(verdict({ base: { initiator: two, target: two }, now: { initiator: two, target: new Map() }, ...floor }).ok, true);
    const dozens = files(36);
    const v = verdict({ base: { initiator: dozens, target: dozens }, now: { initiator: dozens, target: new Map() }, ...floor });
    assert.deepEqual(kinds(v), ['emptied:target', 'delete-percent:initiator']);
  });

  test('one-way sync from an empty source: refused only from the floor on', () => {
    const oneWay = (n: number) => verdict({ base: { initiator: null, target: null }, now: { initiator: new Map(), target: files(n) }, syncType: 'initiator2target', ...floor });
    assert.equal(oneWay(1).ok, true);
    assert.deepEqual(kinds(oneWay(12)), ['emptied:initiator', 'delete-percent:target']);
  });

  test('MAX_DELETE_COUNT is an absolute number: the floor does not apply to it', () => {
    assert.deepEqual(kinds(verdict(initiatorChanged(files(50), deleting(files(50), 3), { ...floor, count: 2 }))), ['delete-count:target']);
  });

  test('the floor is configurable: 1 refuses as a pure percentage, 0 too', () => {
    assert.deepEqual(kinds(verdict(initiatorChanged(files(3), files(1), { minFiles: 1 }))), ['delete-percent:target']);
    assert.deepEqual(kinds(verdict(initiatorChanged(files(3), files(1), { minFiles: 0 }))), ['delete-percent:target']);
    assert.equal(verdict(initiatorChanged(files(30), new Map(), { minFiles: 31 })).ok, true);
  });
});

describe('deletion guard: MAX_DELETE_COUNT', () => {
  const hundred = files(100);
  const deleting = (n: number) => without(hundred, (p) => Number(p.slice(1)) < n);
  test('more than the count is refused; the count itself is allowed; 0 means no limit', () => {
    assert.equal(verdict(initiatorChanged(hundred, deleting(3), { count: 3 })).ok, true);
    const v = verdict(initiatorChanged(hundred, deleting(4), { count: 3 }));
    assert.deepEqual(kinds(v), ['delete-count:target']);
    assert.equal(v.reasons[0].message, 'The plan would delete 4 files on the target replica, more than MAX_DELETE_COUNT=3.');
    assert.equal(verdict(initiatorChanged(hundred, deleting(40), { count: 0 })).ok, true);
  });
});

describe('deletion guard: renamed directories are moves', () => {
  const before = merge(files(8, 'photos/'), files(2));
  const renamed = (to: string, l: Listing = before) => {
    const out: Listing = new Map();
    for (const [p, e] of l) out.set(p === 'photos' || p.startsWith('photos/') ? to + p.slice('photos'.length) : p, e);
    return out;
  };

  test('a directory renamed on the initiator: 8 moves, no deletion, the run passes', () => {
    const v = verdict(initiatorChanged(before, renamed('pictures')));
    assert.equal(v.ok, true, JSON.stringify(v.reasons));
    assert.deepEqual(v.moves, { initiator: 0, target: 8 });
    assert.deepEqual(v.deletions, { initiator: 0, target: 0 });
  });

  test('renamed into a deeper place and renamed on the target side too', () => {
    assert.equal(verdict(initiatorChanged(before, renamed('archive/2024/photos'))).ok, true);
    const v = verdict({ base: { initiator: before, target: before }, now: { initiator: before, target: renamed('pics') } });
    assert.deepEqual(v.moves, { initiator: 8, target: 0 });
    assert.equal(v.ok, true);
  });

  test('only files with the same relative name, size and mtime are moves', () => {
    const after = renamed('pictures');
    after.set('pictures/f0', file(999)); // changed size while renamed
    after.set('pictures/f1', file(2, T0 + 60)); // changed mtime
    after.delete('pictures/f2'); // dropped
    const v = verdict(initiatorChanged(before, after, { percent: 20 }));
    assert.deepEqual(v.moves.target, 5);
    assert.deepEqual(v.deletions.target, 3);
    assert.deepEqual(kinds(v), ['delete-percent:target']);
    assert.match(v.reasons[0].message, /delete 3 of the 10 files on the target replica \(30%\), more than MAX_DELETE_PERCENT=20% \(5 more in renamed directories counted as moves\)/);
  });

  test('a directory deleted while an unrelated one is created is not a move', () => {
    const after = without(before, (p) => p === 'photos' || p.startsWith('photos/'));
    for (const [p, e] of files(8, 'other/')) after.set(p, e.type === 'f' ? file(e.size + 100) : e);
    const v = verdict(initiatorChanged(before, after));
    assert.equal(v.moves.target, 0);
    assert.equal(v.deletions.target, 8);
    assert.equal(v.ok, false);
  });
});

describe('deletion guard: emptied replica, vanished root, mount change', () => {
  test('a replica that had files and is empty is refused (unless MAX_DELETE_PERCENT=100)', () => {
    const two = files(2);
    const v = verdict({ base: { initiator: two, target: two }, now: { initiator: two, target: new Map() } });
    assert.deepEqual(kinds(v), ['emptied:target', 'delete-percent:initiator']);
    assert.equal(verdict({ base: { initiator: two, target: two }, now: { initiator: two, target: new Map() }, percent: 100 }).ok, true);
    assert.equal(v.reasons[0].message, 'The target replica holds no files but held 2 at the last run (an unmounted or emptied replica?); its deletion would be propagated.');
    // Only empty directories left counts as empty.
    const dirsOnly: Listing = new Map([['d', dir()]]);
    assert.deepEqual(kinds(verdict({ base: { initiator: two, target: two }, now: { initiator: two, target: dirsOnly }, percent: 99 })), ['emptied:target', 'delete-percent:initiator']);
    // Nothing to propagate (the other side changed every file: all kept): no reason to refuse.
    const edited: Listing = new Map([...two].map(([p, e]) => [p, { ...e, mtime: T0 + 60 }]));
    assert.deepEqual(kinds(verdict({ base: { initiator: two, target: two }, now: { initiator: edited, target: new Map() } })), []);
  });

  test('a root that vanished although the last run recorded content there', () => {
    const roots = { initiator: '/a/', target: '/b/' };
    const v = checkVanishedRoots({ initiator: false, target: true }, { initiator: 5, target: 5 }, roots, false);
    assert.equal(v.ok, false);
    assert.equal(v.reasons[0].message, 'The target replica root [/b/] does not exist but held 5 entries at the last run (an unmounted disk?); it is not recreated empty.');
    assert.equal(checkVanishedRoots({ initiator: false, target: true }, { initiator: 5, target: 0 }, roots, false).ok, true);
    assert.equal(checkVanishedRoots({ initiator: false, target: true }, { initiator: 5, target: 5 }, roots, true).ok, true);
  });

  test('an emptied replica whose root path changed in the config is named as such, not as an unmounted disk', () => {
    const many = files(20);
    const roots = { recorded: { initiator: '/data/a/', target: '/srv/old-b/' }, current: { initiator: '/data/a/', target: '/srv/new-b/' } };
    const v = verdict({ base: { initiator: many, target: many }, now: { initiator: many, target: new Map() }, roots, minFiles: 10 });
    assert.deepEqual(kinds(v), ['emptied:target', 'delete-percent:initiator']);
    assert.equal(
      v.reasons[0].message,
      "The target replica [/srv/new-b/] holds no files, but this task's target replica was [/srv/old-b/] at the last run and held 20 files: its path was changed in the configuration, and syncing would delete 20 files on the initiator replica.",
    );
    assert.doesNotMatch(v.reasons[0].message, /unmounted/);
    assert.match(refusalAdvice(v.reasons), /new INSTANCE_ID/);
    // The same root as recorded: the unmounted-disk guess stays.
    const same = verdict({ base: { initiator: many, target: many }, now: { initiator: many, target: new Map() }, roots: { recorded: roots.current, current: roots.current }, minFiles: 10 });
    assert.match(same.reasons[0].message, /an unmounted or emptied replica\?/);
    assert.doesNotMatch(refusalAdvice(same.reasons), /INSTANCE_ID/);
    assert.match(refusalAdvice(same.reasons), /check that both replicas are mounted/);
  });

  test('a root on another filesystem than at the last run', () => {
    const ten = files(10);
    const c = (recorded: string | null, current: string | null): Case => ({
      base: { initiator: ten, target: ten },
      now: { initiator: ten, target: ten },
      identity: { recorded: { initiator: '/dev/sda1 on /', target: recorded }, current: { initiator: '/dev/sda1 on /', target: current } },
    });
    const v = verdict(c('/dev/sdb1 on /mnt/usb', '/dev/sda1 on /'));
    assert.deepEqual(kinds(v), ['mount-changed:target']);
    assert.equal(v.reasons[0].message, 'The target replica root is on [/dev/sda1 on /] but was on [/dev/sdb1 on /mnt/usb] at the last run (a different or unmounted filesystem?).');
    assert.equal(verdict(c('/dev/sdb1 on /mnt/usb', '/dev/sdb1 on /mnt/usb')).ok, true);
    assert.equal(verdict(c(null, '/dev/sda1 on /')).ok, true, 'nothing recorded yet');
    assert.equal(verdict(c('/dev/sdb1 on /mnt/usb', null)).ok, true, 'identity unknown now');
  });
});

describe('deletion guard: every file changed at once', () => {
  const touched = (l: Listing, skip = 0) => {
    const out: Listing = new Map();
    let i = 0;
    for (const [p, e] of l) out.set(p, e.type === 'f' && i++ >= skip ? { ...e, mtime: e.mtime + 3600 } : e);
    return out;
  };
  test('10 files all modified is refused; 9 files, or one file unchanged, passes', () => {
    const v = verdict(initiatorChanged(files(10), touched(files(10))));
    assert.deepEqual(kinds(v), ['all-changed:initiator']);
    assert.equal(v.reasons[0].message, 'Every one of the 10 files the initiator replica held at the last run has changed (10 modified, 0 deleted, none unchanged): a clock jump, a restore from backup or a wrong directory?');
    assert.equal(verdict(initiatorChanged(files(9), touched(files(9)))).ok, true);
    assert.equal(verdict(initiatorChanged(files(10), touched(files(10), 1))).ok, true);
  });
  test('a base without metadata (left by osync.sh) says nothing about changes', () => {
    const pathsOnly = new Map([...files(10)].map(([p]) => [p, null])) as unknown as Listing;
    assert.equal(verdict({ base: { initiator: pathsOnly, target: pathsOnly }, now: { initiator: touched(files(10)), target: files(10) } }).ok, true);
  });
});

describe('deletion guard: --force, first run, one-way sync', () => {
  test('--force lets every reason through and says so', () => {
    const ten = files(10);
    const v = verdict({ base: { initiator: ten, target: ten }, now: { initiator: ten, target: new Map() }, force: true });
    assert.equal(v.ok, true);
    assert.equal(v.forced, true);
    assert.deepEqual(kinds(v), ['emptied:target', 'delete-percent:initiator']);
    const clean = verdict({ base: { initiator: ten, target: ten }, now: { initiator: ten, target: ten }, force: true });
    assert.equal(clean.forced, false);
  });

  test('first run (no base): nothing can be deleted, the guard passes', () => {
    const v = verdict({ base: { initiator: null, target: null }, now: { initiator: files(20), target: new Map() } });
    assert.equal(v.ok, true);
    assert.deepEqual(v.reasons, []);
    assert.deepEqual(v.deletions, { initiator: 0, target: 0 });
  });

  test('one-way sync: the mirror deletions are counted', () => {
    const dest = files(10);
    const src = without(dest, (p) => Number(p.slice(1)) < 6);
    const v = verdict({ base: { initiator: null, target: null }, now: { initiator: src, target: dest }, syncType: 'initiator2target' });
    assert.deepEqual(kinds(v), ['delete-percent:target']);
    assert.equal(v.deletions.target, 6);
    const half = without(dest, (p) => Number(p.slice(1)) < 5);
    assert.equal(verdict({ base: { initiator: null, target: null }, now: { initiator: half, target: dest }, syncType: 'initiator2target' }).ok, true);
  });

  test('one-way sync from an empty source is refused', () => {
    const v = verdict({ base: { initiator: null, target: null }, now: { initiator: files(3), target: new Map() }, syncType: 'target2initiator' });
    assert.deepEqual(kinds(v), ['emptied:target', 'delete-percent:initiator']);
    assert.match(v.reasons[0].message, /The target replica \(the source of target2initiator\) holds no files while the initiator replica holds 3/);
  });

  test('a file replacing a directory takes the files below it', () => {
    const before = merge(files(4, 'd/'));
    const after: Listing = new Map([['d', file(7, T0 + 10)]]);
    const plan = planSync({
      base: { initiator: before, target: before },
      now: { initiator: after, target: before },
      policy: { prevalence: 'initiator', skipDeletion: [], syncType: 'bidirectional', checksum: false, preservePermissions: true, preserveExecutability: true },
    });
    assert.deepEqual(countDeletions(plan, { initiator: after, target: before }).deletions, { initiator: 0, target: 4 });
  });
});
