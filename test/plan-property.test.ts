// Property-based tests of the pure planner (lib/plan/plan.ts): two in-memory replicas
// live through random histories of user operations interleaved with syncs. Each sync
// plans with the base left by the previous one, carries the actions out the way the
// rsync runs of lib/apply would (deletions first, then copies; whatever is removed or
// overwritten lands in a "trash" or "backup" bag), and checks:
//   (a) both replicas are equal afterwards;
//   (b) no file version that existed before the sync is gone (it is on a replica or in a bag),
//       a version changed since the last sync never lands in the trash (modified beats deleted),
//       and it is only backed up when it lost a conflict;
//   (c) expectedAfter() describes the replicas exactly;
//   (d) planning again right away finds nothing to do.
// With random failures injected, one more clean sync restores (a)–(d).
// Content is modelled apart from size and mtime: a "stealth" edit changes a file's content
// but neither its size nor its mtime (to the second), where a real one can: in the second
// the last sync listed it (a racily clean file), or on top of an edit since then. The
// sync answers the planner's content questions (contentSuspects) from the model, as rsync
// --checksum would, and (a) and (b) also hold for content.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Side } from '../lib/config/types.js';
import { itemLine, parseItemLines, type Entry, type Listing } from '../lib/detect/parse-listing.js';
import { splitUnchanged } from '../lib/detect/unchanged.js';
import { byBytes, metaLine, parseBaseLines } from '../lib/state/files.js';
import {
  ancestors,
  contentSuspects,
  expectedAfter,
  keptRacy,
  planSync,
  type Action,
  type BaseListing,
  type PlanInput,
  type PlanPolicy,
} from '../lib/plan/plan.js';

const SIDES = ['initiator', 'target'] as const;
// Names chosen to sort around "/" (0x2f): ' ' and '-' and '.' sort before it.
const NAMES = ['a', 'a b', 'a-b', 'a.c'];
const MODES = { f: ['-rw-r--r--', '-rwxr-xr-x', '-rw-------'], d: ['drwxr-xr-x', 'drwx------'], s: ['Srw-r--r--', 'Srw-------'] };
const TARGETS = ['a', 'x -> y', '../up', 'a b/a'];

type Replica = Map<string, Entry>;
interface Bagged { side: Side; path: string; entry: Entry; action: Action }
/** A file's content beyond its size and mtime (a stealth edit's number); none: the first. */
const contentOf = (e: Entry | null | undefined) => (e as { content?: number } | null | undefined)?.content ?? 0;
interface World {
  r: Record<Side, Replica>;
  base: Record<Side, BaseListing | null>;
  /** Files the last sync wrote or listed recently (mtime after the sync before it): racily clean. */
  racy: Record<Side, Set<string>>;
  /** The clock at the last sync. */
  synced: number;
  /** Bases written by osync.sh (paths only): nothing can tell a stealth edit, none is made. */
  noStealth?: boolean;
  clock: number;
  trash: Bagged[];
  backup: Bagged[];
  /** Things the in-memory rsync had to improvise (missing source, missing parent…). */
  anomalies: string[];
}

// ---------------------------------------------------------------------------
// User operations on one replica (paths stay well-formed: parents are directories).

type Op =
  | { op: 'create'; path: string; kind: 'f' | 'd' | 'l' | 's'; size: number; tie: boolean; target: number }
  | { op: 'modify'; path: string; size: number; tie: boolean }
  | { op: 'delete'; path: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'rename'; path: string; to: string }
  | { op: 'retype'; path: string; kind: 'f' | 'd' | 'l' | 's'; size: number; target: number }
  | { op: 'stealth'; path: string };

const pathArb = fc.array(fc.integer({ min: 0, max: NAMES.length - 1 }), { minLength: 1, maxLength: 3 }).map((ix) => ix.map((i) => NAMES[i]).join('/'));
const kindArb = fc.constantFrom<'f' | 'd' | 'l' | 's'>('f', 'f', 'd', 'd', 'l', 's');
const sizeArb = fc.integer({ min: 0, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('create' as const), path: pathArb, kind: kindArb, size: sizeArb, tie: fc.boolean(), target: fc.nat(TARGETS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('modify' as const), path: pathArb, size: sizeArb, tie: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('chmod' as const), path: pathArb, mode: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rename' as const), path: pathArb, to: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('retype' as const), path: pathArb, kind: kindArb, size: sizeArb, target: fc.nat(TARGETS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('stealth' as const), path: pathArb }) },
);

type Step = { side: Side; op: Op } | { sync: true; failSeed: number | null };
const stepArb = (failures: boolean): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ side: fc.constantFrom<Side>('initiator', 'target'), op: opArb }) },
    { weight: 2, arbitrary: fc.record({ sync: fc.constant(true as const), failSeed: failures ? fc.option(fc.nat(), { nil: null, freq: 2 }) : fc.constant(null) }) },
  );

function subtree(r: Replica, root: string): string[] {
  const prefix = root + '/';
  return [...r.keys()].filter((k) => k === root || k.startsWith(prefix));
}

function parentsAreDirs(r: Replica, path: string): boolean {
  return ancestors(path).every((a) => r.get(a)?.type === 'd');
}

function makeEntry(w: World, kind: 'f' | 'd' | 'l' | 's', size: number, tie: boolean, target: number): Entry {
  // "tie": reuse a small fixed mtime so both sides often end up with equal mtimes.
  const mtime = tie ? 1000 : ++w.clock;
  if (kind === 'd') return { type: 'd', size: 0, mtime, mode: MODES.d[0] };
  if (kind === 'l') return { type: 'l', size: TARGETS[target].length, mtime, mode: 'lrwxrwxrwx', target: TARGETS[target] };
  if (kind === 's') return { type: 's', size: 0, mtime, mode: MODES.s[0] };
  return { type: 'f', size, mtime, mode: MODES.f[0] };
}

function userOp(w: World, side: Side, o: Op): void {
  const r = w.r[side];
  const cur = r.get(o.path);
  switch (o.op) {
    case 'create': {
      if (cur) return;
      // mkdir -p the parents, unless one of them is not a directory.
      for (const a of ancestors(o.path).reverse()) {
        const e = r.get(a);
        if (!e) r.set(a, { type: 'd', size: 0, mtime: ++w.clock, mode: MODES.d[0] });
        else if (e.type !== 'd') return;
      }
      r.set(o.path, makeEntry(w, o.kind, o.size, o.tie, o.target));
      return;
    }
    case 'modify':
      if (cur?.type !== 'f') return;
      r.set(o.path, { ...cur, size: o.size, mtime: o.tie ? cur.mtime : ++w.clock });
      return;
    case 'delete':
      for (const k of subtree(r, o.path)) r.delete(k);
      return;
    case 'chmod':
      if (!cur || cur.type === 'l') return;
      r.set(o.path, { ...cur, mode: MODES[cur.type][o.mode % MODES[cur.type].length] });
      return;
    case 'rename': {
      // mv keeps the entries (and their mtimes); refuse moves into itself or onto something.
      if (!cur || r.has(o.to) || !parentsAreDirs(r, o.to) || o.to.startsWith(o.path + '/')) return;
      const moved = subtree(r, o.path).map((k) => [k, r.get(k)!] as const);
      for (const [k] of moved) r.delete(k);
      for (const [k, e] of moved) r.set(o.to + k.slice(o.path.length), e);
      return;
    }
    case 'retype': {
      if (!cur || cur.type === o.kind) return;
      for (const k of subtree(r, o.path)) r.delete(k);
      r.set(o.path, makeEntry(w, o.kind, o.size, false, o.target));
      return;
    }
    case 'stealth': {
      // Only where a real edit can keep size and mtime: on top of an edit since the last sync
      // (new or listed otherwise), or in the second the last sync listed the file (racily clean).
      const base = w.base[side];
      if (w.noStealth || cur?.type !== 'f' || !base) return;
      const before = base.get(o.path);
      if (before === null) return;
      const unchanged = before?.type === 'f' && before.size === cur.size && before.mtime === cur.mtime;
      if (unchanged && !w.racy[side].has(o.path)) return;
      r.set(o.path, { ...cur, content: ++w.clock } as Entry);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// The in-memory rsync.

function removeInto(w: World, bag: Bagged[], side: Side, root: string, action: Action): void {
  const r = w.r[side];
  for (const k of subtree(r, root)) {
    bag.push({ side, path: k, entry: r.get(k)!, action });
    r.delete(k);
  }
}

function apply(w: World, actions: Action[], failed: Set<Action>): void {
  const todo = actions.filter((a) => !failed.has(a));
  // Deletions run first (one batch per side), then the transfers.
  for (const a of todo) {
    if (a.kind !== 'delete') continue;
    if (!w.r[a.on].has(a.path)) {
      w.anomalies.push(`delete of missing ${a.on}:${a.path}`);
      continue;
    }
    removeInto(w, a.into === 'deleted' ? w.trash : w.backup, a.on, a.path, a);
  }
  const copies = todo.filter((a): a is Extract<Action, { kind: 'copy' }> => a.kind === 'copy');
  copies.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  for (const a of copies) {
    const src = w.r[a.from].get(a.path);
    const dest = w.r[a.to];
    if (!src) {
      // rsync --ignore-missing-args skips it.
      w.anomalies.push(`copy of missing ${a.from}:${a.path}`);
      continue;
    }
    // --relative creates the implied parent directories, with the source's attributes.
    for (const dir of ancestors(a.path).reverse()) {
      const have = dest.get(dir);
      if (have?.type === 'd') continue;
      w.anomalies.push(`implied dir ${a.to}:${dir} (${have ? 'replacing ' + have.type : 'missing'})`);
      if (have) removeInto(w, w.backup, a.to, dir, a);
      const s = w.r[a.from].get(dir);
      dest.set(dir, s?.type === 'd' ? s : { type: 'd', size: 0, mtime: -1, mode: MODES.d[0] });
    }
    const old = dest.get(a.path);
    if (old) {
      if (old.type === 'd' && src.type === 'd') {
        // attributes only
      } else if (old.type === 'd') {
        removeInto(w, w.backup, a.to, a.path, a); // --force --backup
      } else if (!a.listedAlike && old.type === 'f' && src.type === 'f' && old.size === src.size && old.mtime === src.mtime) {
        // A file that passes rsync's quick check is not transferred, only its attributes.
        if (contentOf(old) !== contentOf(src)) {
          dest.set(a.path, { ...src, content: contentOf(old) } as Entry);
          continue;
        }
      } else {
        w.backup.push({ side: a.to, path: a.path, entry: old, action: a });
      }
    }
    dest.set(a.path, src);
  }
}

// ---------------------------------------------------------------------------
// Invariants.

const version = (p: string, e: Entry) => `${p}|${e.size}|${e.mtime}|${contentOf(e)}`;

function fileVersions(w: World): Set<string> {
  const out = new Set<string>();
  for (const s of SIDES) for (const [p, e] of w.r[s]) if (e.type === 'f') out.add(version(p, e));
  return out;
}

function versionsAnywhere(w: World): Set<string> {
  const out = fileVersions(w);
  for (const b of [...w.trash, ...w.backup]) if (b.entry.type === 'f') out.add(version(b.path, b.entry));
  return out;
}

function describeEntry(e: Entry | null | undefined, policy: PlanPolicy): string {
  if (!e) return String(e);
  const mode = e.type === 'l' ? '' : policy.preservePermissions ? e.mode : policy.preserveExecutability && e.type === 'f' ? e.mode[3] + e.mode[6] + e.mode[9] : '';
  if (e.type === 'd') return `d ${mode}`;
  if (e.type === 'l') return `l ->${e.target}`;
  return `f ${e.size}@${e.mtime} ${mode}`;
}

function assertEqualReplicas(w: World, policy: PlanPolicy, ctx: string): void {
  const view = (s: Side) => new Map([...w.r[s]].map(([p, e]) => [p, `${describeEntry(e, policy)} #${contentOf(e)}`]));
  assert.deepEqual(view('target'), view('initiator'), `${ctx}: replicas differ`);
}

function sortedObj(m: Map<string, Entry | null>): Record<string, Entry | null> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface SyncResult { actions: Action[]; failed: Set<Action>; conflicts: string[]; input: PlanInput }

function runSync(w: World, policy: PlanPolicy, failSeed: number | null): SyncResult {
  const before = versionsAnywhere(w);
  const trashFrom = w.trash.length;
  const backupFrom = w.backup.length;
  const anomaliesFrom = w.anomalies.length;
  const input = planInput(w, policy);
  const plan = planSync(input);
  checkSplitPlansTheSame(input);
  const failed = new Set<Action>();
  if (failSeed !== null) {
    let x = failSeed;
    for (const a of plan.actions) {
      x = (x * 1103515245 + 12345) % 2147483648;
      if (x % 3 === 0) failed.add(a);
    }
  }
  apply(w, plan.actions, failed);
  const after = expectedAfter(input, plan.actions, failed);
  const ctx = `actions ${JSON.stringify(plan.actions)} failed ${JSON.stringify([...failed])}`;

  // (b) nothing vanished …
  const now = versionsAnywhere(w);
  for (const v of before) assert.ok(now.has(v), `(b) file version ${v} lost; ${ctx}`);
  // … what went to the trash was unchanged since the last run …
  for (const t of w.trash.slice(trashFrom)) {
    const b = w.base[t.side]?.get(t.path);
    if (b === null) continue; // osync-written base: no way to tell (osync deletes too)
    assert.ok(b, `(b) ${t.side}:${t.path} trashed though the base did not know it; ${ctx}`);
    assert.equal(describeEntry(t.entry, policy), describeEntry(b, policy), `(b) ${t.side}:${t.path} changed since the last run but trashed; ${ctx}`);
  }
  // … and a changed version is only backed up when it lost a conflict (at it or above it).
  for (const t of w.backup.slice(backupFrom)) {
    if (t.entry.type !== 'f') continue;
    const b = w.base[t.side]?.get(t.path);
    if (b && describeEntry(t.entry, policy) === describeEntry(b, policy)) continue;
    const inConflict = [t.path, ...ancestors(t.path)].some((p) => plan.conflicts.includes(p));
    // A directory replaced by a file on the other side takes new content below it along.
    const underReplaced = ancestors(t.path).some((d) =>
      plan.actions.some((a) => a.kind === 'copy' && a.path === d && a.to === t.side && input.now[a.from].get(d)?.type !== 'd'),
    );
    assert.ok(inConflict || underReplaced, `(b) changed ${t.side}:${t.path} ${describeEntry(t.entry, policy)} overwritten without a conflict; ${ctx}`);
  }

  if (failed.size === 0) {
    assert.deepEqual(w.anomalies.slice(anomaliesFrom), [], `apply anomalies; ${ctx}`);
    // Conflicts between two files: the newer mtime wins, ties go to CONFLICT_PREVALANCE.
    for (const c of plan.conflicts) {
      const i = input.now.initiator.get(c);
      const t = input.now.target.get(c);
      if (i?.type !== 'f' || t?.type !== 'f') continue;
      const winner = i.mtime === t.mtime ? input.now[policy.prevalence].get(c)! : i.mtime > t.mtime ? i : t;
      for (const s of SIDES) assert.equal(describeEntry(w.r[s].get(c), policy), describeEntry(winner, policy), `conflict winner at ${s}:${c}; ${ctx}`);
      for (const s of SIDES) assert.equal(contentOf(w.r[s].get(c)), contentOf(winner), `conflict winner's content at ${s}:${c}; ${ctx}`);
    }
    // (a)
    assertEqualReplicas(w, policy, ctx);
    // (c)
    for (const s of SIDES) assert.deepEqual(sortedObj(after[s]), sortedObj(w.r[s]), `(c) expectedAfter(${s}) differs from the replica; ${ctx}`);
  }
  w.base = after;
  // Racily clean now: the files this sync leaves with an mtime after the sync before it, and
  // those it keeps as the base had them (lib/sync.ts marks them so too).
  const kept = keptRacy(input, failed);
  for (const s of SIDES) w.racy[s] = new Set([...[...after[s]].filter(([, e]) => e?.type === 'f' && e.mtime > w.synced).map(([p]) => p), ...kept[s]]);
  w.synced = w.clock;
  if (failed.size === 0) {
    // (d)
    const again = planSync(planInput(w, policy));
    const left = again.actions.filter((a) => !(policy.checksum && a.reason === 'checksum'));
    assert.deepEqual(left, [], `(d) second sync still has work; ${ctx}`);
  }
  return { actions: plan.actions, failed, conflicts: plan.conflicts, input };
}

/**
 * (e) Setting aside the lines listed identically on both replicas now and in both bases
 * (lib/detect/unchanged.ts) plans exactly as the whole listings do, and what was set
 * aside plus expectedAfter of the rest is expectedAfter of the whole.
 */
function checkSplitPlansTheSame(input: PlanInput): void {
  const { base, now, policy } = input;
  if (policy.syncType !== 'bidirectional' || policy.checksum || !base.initiator || !base.target) return;
  // As listed (owners known: a listing always has them) and as the state keeps them.
  const owned = (e: Entry): Entry => ({ uid: 0, gid: 0, ...e });
  const listed = (m: Listing) => [...m].map(([p, e]) => itemLine(p, owned(e)));
  const kept = (m: BaseListing) => [...m].map(([p, e]) => metaLine(p, e && owned(e)));
  const lines = {
    now: { initiator: listed(now.initiator), target: listed(now.target) },
    base: { initiator: kept(base.initiator), target: kept(base.target) },
  };
  const whole: PlanInput = {
    base: { initiator: parseBaseLines(lines.base.initiator), target: parseBaseLines(lines.base.target) },
    now: { initiator: parseItemLines(lines.now.initiator), target: parseItemLines(lines.now.target) },
    policy,
  };
  // Also split as a real run does: the initiator's state in path order with its paths given
  // (osync's list beside it), and a replica whose listing is exactly its state's lines
  // (its digest matched) given as null.
  const order = [...base.initiator.keys()].map((p, k) => ({ p, line: lines.base.initiator[k] })).sort((x, y) => byBytes(x.p, y.p));
  const inOrder = { now: lines.now, base: { ...lines.base, initiator: order.map((x) => x.line) }, basePaths: order.map((x) => x.p) };
  const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  const asState = (s: Side) => (sameSet(lines.now[s], lines.base[s].filter((l) => !/^[PU] /.test(l))) ? [{ ...inOrder, now: { ...lines.now, [s]: null } }] : []);
  for (const split of [lines, inOrder, ...asState('initiator'), ...asState('target')].map((x) => splitUnchanged(x))) checkSplit(input, whole, split);
}

function checkSplit(input: PlanInput, whole: PlanInput, split: ReturnType<typeof splitUnchanged>): void {
  const { policy } = input;
  const part: PlanInput = {
    base: { initiator: parseBaseLines(split.rest.base.initiator), target: parseBaseLines(split.rest.base.target) },
    now: { initiator: parseItemLines(split.rest.now.initiator), target: parseItemLines(split.rest.now.target) },
    policy,
  };
  const a = planSync(whole);
  const b = planSync(part);
  const ctx = `split ${JSON.stringify(split.same.paths)}`;
  assert.deepEqual(b.actions, a.actions, `(e) actions; ${ctx}`);
  assert.deepEqual(b.conflicts, a.conflicts, `(e) conflicts; ${ctx}`);
  assert.deepEqual(b.deletedOn, a.deletedOn, `(e) deleted lists; ${ctx}`);
  assert.equal(b.settled, a.settled, `(e) settled; ${ctx}`);
  const afterWhole = expectedAfter(whole, a.actions, new Set());
  const afterPart = expectedAfter(part, b.actions, new Set());
  for (const s of SIDES) {
    const merged: BaseListing = new Map(afterPart[s]);
    split.same.paths.forEach((p, k) => merged.set(p, parseItemLines([split.same.lines[k]]).get(p)!));
    assert.deepEqual(sortedObj(merged), sortedObj(afterWhole[s]), `(e) expectedAfter(${s}); ${ctx}`);
  }
}

/** The planner's input for a sync now, its content questions answered from the model. */
function planInput(w: World, policy: PlanPolicy): PlanInput {
  const input: PlanInput = { base: w.base, now: { initiator: new Map(w.r.initiator), target: new Map(w.r.target) }, policy, racy: w.racy };
  const differs = contentSuspects(input).filter((p) => contentOf(input.now.initiator.get(p)) !== contentOf(input.now.target.get(p)));
  return { ...input, contentDiffers: new Set(differs) };
}

function newWorld(): World {
  return {
    r: { initiator: new Map(), target: new Map() },
    base: { initiator: null, target: null },
    racy: { initiator: new Set(), target: new Set() },
    synced: 2000,
    clock: 2000,
    trash: [],
    backup: [],
    anomalies: [],
  };
}

/** The base as osync.sh would have left it: paths only. */
function pathsOnly(base: BaseListing | null): BaseListing | null {
  return base && new Map([...base.keys()].map((k) => [k, null]));
}

function runHistory(steps: Step[], policy: PlanPolicy, initial?: Op[][], osyncBase = false): void {
  const w = newWorld();
  // CHECKSUM compares every file's content in the transfers anyway (not modelled here).
  w.noStealth = osyncBase || policy.checksum;
  // Optionally start from two different populated replicas (first run = union).
  if (initial) initial.forEach((ops, i) => ops.forEach((o) => userOp(w, SIDES[i], o)));
  let pendingFailure = false;
  for (const st of steps) {
    if ('sync' in st) {
      if (osyncBase) w.base = { initiator: pathsOnly(w.base.initiator), target: pathsOnly(w.base.target) };
      const res = runSync(w, policy, st.failSeed);
      pendingFailure = res.failed.size > 0;
    } else {
      userOp(w, st.side, st.op);
    }
  }
  // Finish with a clean sync: after failures this one must repair everything.
  if (pendingFailure || steps.length) runSync(w, policy, null);
}

const basePolicy: PlanPolicy = {
  prevalence: 'initiator',
  skipDeletion: [],
  syncType: 'bidirectional',
  checksum: false,
  preservePermissions: true,
  preserveExecutability: true,
};

const NUM_RUNS = Number(process.env.PLAN_PROPERTY_RUNS ?? 1000);

describe('planner properties (two in-memory replicas, random histories)', () => {
  const policies: Array<[string, PlanPolicy]> = [
    ['default policy', basePolicy],
    ['CONFLICT_PREVALANCE=target', { ...basePolicy, prevalence: 'target' }],
    ['PRESERVE_PERMISSIONS=false', { ...basePolicy, preservePermissions: false }],
    ['PRESERVE_PERMISSIONS=false, no executability', { ...basePolicy, preservePermissions: false, preserveExecutability: false }],
    ['CHECKSUM=true', { ...basePolicy, checksum: true }],
  ];
  for (const [name, policy] of policies) {
    test(`${name}: syncs converge, nothing changed is lost, expectedAfter is exact`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 2, maxLength: 2 }),
          fc.array(stepArb(false), { minLength: 1, maxLength: 30 }),
          (initial, steps) => runHistory(steps, policy, initial),
        ),
        { numRuns: NUM_RUNS, includeErrorInReport: true },
      );
    });
  }

  test('random failed actions: the next clean sync converges and nothing is lost', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 2, maxLength: 2 }),
        fc.array(stepArb(true), { minLength: 1, maxLength: 30 }),
        fc.constantFrom<Side>('initiator', 'target'),
        (initial, steps, prevalence) => runHistory(steps, { ...basePolicy, prevalence }, initial),
      ),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  test('a stealth edit whose copy fails is still compared by the next run (found by the properties above)', () => {
    const create: Op = { op: 'create', path: 'a-b', kind: 'f', size: 0, tie: false, target: 0 };
    const steps: Step[] = [{ side: 'initiator', op: create }, { sync: true, failSeed: null }, { side: 'initiator', op: { op: 'stealth', path: 'a-b' } }, { sync: true, failSeed: 0 }];
    runHistory(steps, basePolicy, [[], []]);
  });

  test('every run starts from an osync-written base (paths only, no metadata)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 2, maxLength: 2 }),
        fc.array(stepArb(true), { minLength: 1, maxLength: 30 }),
        fc.constantFrom<Side>('initiator', 'target'),
        (initial, steps, prevalence) => runHistory(steps, { ...basePolicy, prevalence }, initial, true),
      ),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  test('SKIP_DELETION: the skipped side keeps its copy, which comes back on the next run', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 2, maxLength: 2 }),
        fc.array(fc.record({ side: fc.constantFrom<Side>('initiator', 'target'), op: opArb }), { maxLength: 10 }),
        fc.subarray<Side>(['initiator', 'target'], { minLength: 1 }),
        (initial, ops, skip) => {
          const policy = { ...basePolicy, skipDeletion: skip };
          const w = newWorld();
          initial.forEach((list, i) => list.forEach((o) => userOp(w, SIDES[i], o)));
          const input = () => ({ base: w.base, now: { initiator: new Map(w.r.initiator), target: new Map(w.r.target) }, policy });
          const first = input();
          const p1 = planSync(first);
          assert.ok(!p1.actions.some((a) => a.kind !== 'copy'), 'first run: copies only');
          apply(w, p1.actions, new Set());
          w.base = expectedAfter(first, p1.actions, new Set());
          for (const { side, op } of ops) userOp(w, side, op);
          const before = versionsAnywhere(w);
          const second = input();
          const p2 = planSync(second);
          for (const a of p2.actions) {
            if (a.kind === 'delete') assert.ok(!skip.includes(a.on), `delete on skipped side ${a.on}`);
            if (a.kind === 'skip') assert.ok(skip.includes(a.on) && a.reason === 'skip-deletion');
          }
          apply(w, p2.actions, new Set());
          w.base = expectedAfter(second, p2.actions, new Set());
          for (const v of before) assert.ok(versionsAnywhere(w).has(v), `lost ${v}`);
          // Only skip actions may be left: one more run copies the kept items back.
          const third = input();
          const p3 = planSync(third);
          for (const a of p3.actions) assert.equal(a.kind, 'copy', JSON.stringify(a));
          const skipped = new Set(p2.actions.filter((a) => a.kind === 'skip').map((a) => a.path));
          for (const a of p3.actions) assert.ok([a.path, ...ancestors(a.path)].some((p) => skipped.has(p)), `unexpected ${JSON.stringify(a)}`);
          apply(w, p3.actions, new Set());
          w.base = expectedAfter(third, p3.actions, new Set());
          assertEqualReplicas(w, policy, 'after the copy-back run');
          assert.deepEqual(planSync(input()).actions, []);
        },
      ),
      { numRuns: Math.ceil(NUM_RUNS / 2), includeErrorInReport: true },
    );
  });

  for (const syncType of ['initiator2target', 'target2initiator'] as const) {
    test(`SYNC_TYPE=${syncType}: destination mirrors the source except newer files; removed files go to backup`, () => {
      const from: Side = syncType === 'initiator2target' ? 'initiator' : 'target';
      const to: Side = from === 'initiator' ? 'target' : 'initiator';
      const policy: PlanPolicy = { ...basePolicy, syncType };
      fc.assert(
        fc.property(fc.array(fc.array(opArb, { maxLength: 12 }), { minLength: 2, maxLength: 2 }), (initial) => {
          const w = newWorld();
          initial.forEach((ops, i) => ops.forEach((o) => userOp(w, SIDES[i], o)));
          const before = versionsAnywhere(w);
          const srcBefore = new Map(w.r[from]);
          const destBefore = new Map(w.r[to]);
          const input: PlanInput = { base: { initiator: null, target: null }, now: { initiator: new Map(w.r.initiator), target: new Map(w.r.target) }, policy };
          const plan = planSync(input);
          for (const a of plan.actions) {
            if (a.kind === 'copy') assert.deepEqual([a.from, a.to, a.reason], [from, to, 'mirror']);
            else assert.deepEqual([a.kind, a.on, a.reason, (a as { into?: string }).into], ['delete', to, 'mirror', 'backup']);
          }
          apply(w, plan.actions, new Set());
          assert.deepEqual(w.anomalies, []);
          assert.deepEqual(w.trash, []);
          assert.deepEqual(w.r[from], srcBefore, 'the source is never touched');
          for (const v of before) assert.ok(versionsAnywhere(w).has(v), `lost ${v}`);
          assert.deepEqual([...w.r[to].keys()].sort(), [...srcBefore.keys()].sort(), 'same paths');
          for (const [p, e] of w.r[to]) {
            const s = srcBefore.get(p)!;
            const d = destBefore.get(p);
            const keptNewer = d && d.type === 'f' && s.type === 'f' && d.mtime > s.mtime && d === e;
            if (!keptNewer) assert.equal(describeEntry(e, policy), describeEntry(s, policy), p);
          }
          assert.deepEqual(planSync({ ...input, now: { initiator: new Map(w.r.initiator), target: new Map(w.r.target) } }).actions, []);
        }),
        { numRuns: NUM_RUNS, includeErrorInReport: true },
      );
    });
  }
});
