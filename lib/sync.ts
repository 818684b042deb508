// The one place that orders a run's phases:
// replica checks → locks → resume decision → listing → plan → apply → commit state
// → cleanup → summary → unlock. Each phase logs osync's messages.
import fs from 'node:fs';
import os from 'node:os';
import type { Config, RunFlags, Side } from './config/types.js';
import { ListingError, listReplica, unlistedPaths } from './detect/list.js';
import { displayPath, parseItemLines, type Listing } from './detect/parse-listing.js';
import { splitUnchanged, type Split } from './detect/unchanged.js';
import { applyDeletions, applyTransfers } from './apply/apply.js';
import { applyAttributeChanges, findAttributeChanges } from './apply/attributes.js';
import { contentConflicts, contentSuspects, expectedAfter, keptRacy, planSync, type Action, type BaseListing, type Plan, type PlanInput } from './plan/plan.js';
import { differingContent, newerSides } from './detect/content.js';
import type { Runner } from './proc/run.js';
import { checkLocalTools, pingHosts } from './connectivity.js';
import { checkReplica, cleanupOld, ReplicaError, RootMissingError, type ReplicaInfo } from './replica-check.js';
import { checkGuards, checkVanishedRoots, refusalAdvice, type GuardVerdict } from './plan/guards.js';
import { displayRoot, ownLockAbove, replicaLocation, replicasOverlap, type Replica } from './replica.js';
import type { Logger } from './report/log.js';
import { summaryLines, changeCounts } from './report/summary.js';
import { parseBaseLines, StateDir, writeAtomic, type RacyWindow, type Step } from './state/files.js';
import type { Phase, PhaseView } from './ui/phases.js';
import { testPoint } from './testpoint.js';
import { decideLock, lockPath, lockText, pidAlive, readLock, releaseLock, writeLock, type LockOwner } from './state/lock.js';

export const SIDES: Side[] = ['initiator', 'target'];

export interface SyncContext {
  config: Config;
  flags: RunFlags;
  log: Logger;
  runner: Runner;
  replicas: Record<Side, Replica>;
  /** When the run started (backup suffixes, TIME: prefix). */
  startedAt: Date;
  /** Phase display on a terminal (listr2); absent under cron. */
  view?: PhaseView;
  /** Phase start times, then durations (--verbose shows them). */
  timings: Array<{ phase: Phase; ms: number }>;
  /** Set by a signal or the hard time limit: stop at the next phase boundary. */
  stopRequested?: () => string | null;
  /** An unexpected failure is unwinding the run: what still runs is being stopped. */
  aborting?: boolean;
}

/** A run-level failure already worth one CRITICAL line. */
export class SyncAbort extends Error {}

/** The run was asked to stop (signal, hard time limit): a warning, not a failure. */
export class SyncStopped extends Error {}

export interface SyncOutcome {
  plan?: Plan;
  failed?: Set<Action>;
  /** The deletion guard's verdict, once it was asked; `ok: false` means refused (exit 3). */
  guard?: GuardVerdict;
}

/** The deletion guard refused the run: its reasons are logged, nothing was changed. */
export class GuardRefused extends Error {
  constructor(readonly verdict: GuardVerdict, readonly plan?: Plan) {
    super('Refused by the deletion guard.');
  }
}

export async function runSync(ctx: SyncContext): Promise<SyncOutcome> {
  const { config, flags, log, runner, replicas } = ctx;
  const held: Replica[] = [];
  const me: LockOwner = { pid: process.pid, instanceId: config.instanceId };
  let state: StateDir | undefined;
  try {
    const odd = new StateDir(replicas.initiator.stateDir, config.instanceId, false).notAFile();
    if (odd) throw new SyncAbort(`State file [${odd}] is not a regular file; move it out of the way. Nothing was changed.`);
    phase(ctx, 'check');
    const overlap = replicasOverlap(replicas);
    if (overlap) throw new ReplicaError(overlap);
    checkLocalTools(config, replicas.target);
    await pingHosts(runner, log, config, replicas.target);
    // A remote target is checked and locked in one ssh session, once the initiator is locked.
    const lockWithCheck = !flags.noLocks && !flags.forceUnlock && !!replicas.target.remote && !replicas.initiator.remote;
    const { identities, clockOffset } = await checkReplicas(ctx, lockWithCheck ? { me, held } : null);
    if (!lockWithCheck) phase(ctx, 'lock');
    if (!flags.noLocks) await takeLocks(ctx, me, held);
    // A remote target on this same host that holds the initiator: its lock is above it.
    const lockedAbove = held.includes(replicas.target) && replicas.target.remote ? ownLockAbove(replicas.initiator, lockText(me)) : null;
    if (lockedAbove) throw new ReplicaError(`Initiator replica [${displayRoot(replicas.initiator)}] lies inside the target replica (this run's target lock is in [${lockedAbove}/]): a replica cannot hold the other.`);
    state = new StateDir(replicas.initiator.stateDir, config.instanceId, flags.dry);
    state.ensure();
    if (!flags.dry) state.removeLeftovers();
    if (flags.initialize) {
      await initialize(ctx, state, identities, clockOffset);
      return {};
    }
    const outcome = await synchronize(ctx, state, identities, clockOffset);
    phase(ctx, 'cleanup');
    if (!log.errored) await cleanupOld(runner, log, config, SIDES.map((s) => replicas[s]), flags.dry, state.cleanupStampFile());
    return outcome;
  } catch (e) {
    if (ctx.stopRequested?.()) {
      // Whatever broke after a stop was asked for (killed rsync...) is the stop itself.
      log.warn(ctx.stopRequested() as string);
      return {};
    }
    if (e instanceof GuardRefused) return { plan: e.plan, guard: e.verdict };
    if (e instanceof ReplicaError || e instanceof SyncAbort || e instanceof ListingError) {
      log.critical(e.message);
      return {};
    }
    // A bug: the children still running are stopped below, their end is not another error.
    ctx.aborting = true;
    throw e;
  } finally {
    // No child of the run may outlive its locks (after a signal or a failure, some may
    // still be running, or on their way out): stop them and wait until they are gone.
    const stopped = await runner.stopAll();
    // A run that stopped before its commit: what it staged is not the state.
    await state?.discardStaged().catch((e: Error) => log.error(`Cannot remove staged state files: ${e.message}`));
    if (stopped) await Promise.all(held.map((r) => releaseLock(runner, r, me).catch(() => log.error(`Cannot remove ${r.side} replica lock.`))));
    else if (held.length) log.error('Replica locks kept: a process of this run is still alive.');
    const remote = replicas.target.remote;
    if (remote?.controlPath) {
      // Close the shared connection: argv up to the destination, then -O exit.
      await runner.run([...remote.sshArgv.slice(0, -1), '-O', 'exit', remote.sshArgv[remote.sshArgv.length - 1]]);
    }
    if (ctx.timings.length) log.verbose(`Phase times: ${phaseTimes(ctx)}.`);
    if (runner.sshConnections) {
      log.verbose(`ssh sessions opened: ${runner.sshConnections}${remote?.controlPath ? ' (over one ControlMaster connection)' : ''}.`);
    }
  }
}

/** Replica checks, both at once; the identity (filesystem and mount) of each root, and
 *  how far each replica's host clock is ahead of this one.
 *  A root that vanished although the last run recorded content there is not recreated
 *  by CREATE_DIRS (an unmounted disk would become an empty replica): the guard refuses.
 *  With `lockWith` (a remote target): the initiator is checked and locked first, then the
 *  target's check also creates its lock, in the same ssh session (takeLocks' order kept). */
async function checkReplicas(
  ctx: SyncContext,
  lockWith: { me: LockOwner; held: Replica[] } | null,
): Promise<{ identities: Record<Side, string | null>; clockOffset: Record<Side, number> }> {
  const { runner, log, config, flags, replicas } = ctx;
  const early = new StateDir(replicas.initiator.stateDir, config.instanceId, false);
  const recorded = (s: Side) => early.readList(early.name(s, 'tree-after'))?.length ?? 0;
  const check = async (s: Side, lock?: { file: string; text: string }) => {
    const guarded = config.createDirs && !flags.force && nonEmptyFile(early.name(s, 'tree-after'));
    try {
      const knownIdentity = early.readIdentity(s);
      return await checkReplica(runner, log, config, replicas[s], flags.dry, guarded ? { createDirs: false, knownIdentity, lock } : { knownIdentity, lock });
    } catch (e) {
      if (guarded && e instanceof RootMissingError) return null;
      throw e;
    }
  };
  let infos: Array<ReplicaInfo | null>;
  if (lockWith) {
    const first = await check('initiator');
    phase(ctx, 'lock');
    if (first) await takeLocks(ctx, lockWith.me, lockWith.held, ['initiator']);
    const second = await check('target', first ? { file: lockPath(replicas.target), text: lockText(lockWith.me) } : undefined);
    if (second?.locked) lockWith.held.push(replicas.target);
    infos = [first, second];
  } else infos = await Promise.all(SIDES.map((s) => check(s)));
  if (infos.includes(null)) {
    const vanished = { initiator: infos[0] === null, target: infos[1] === null };
    const roots = { initiator: displayRoot(replicas.initiator), target: displayRoot(replicas.target) };
    enforceGuard(ctx, checkVanishedRoots(vanished, { initiator: recorded('initiator'), target: recorded('target') }, roots, !!flags.force));
  }
  return {
    identities: { initiator: infos[0]?.identity ?? null, target: infos[1]?.identity ?? null },
    clockOffset: { initiator: infos[0]?.clockOffset ?? 0, target: infos[1]?.clockOffset ?? 0 },
  };
}

/** Content and times of state files (null: absent), to put back after a refusal. */
function saveFiles(files: string[]): Array<[string, Buffer | null, fs.Stats | null]> {
  return files.map((f) => {
    try {
      return [f, fs.readFileSync(f), fs.statSync(f)];
    } catch {
      return [f, null, null];
    }
  });
}

function restoreFiles(saved: Array<[string, Buffer | null, fs.Stats | null]>): void {
  for (const [f, data, st] of saved) {
    if (data === null || st === null) fs.rmSync(f, { force: true });
    else {
      writeAtomic(f, data.toString('latin1'));
      fs.utimesSync(f, st.atimeMs / 1000, st.mtimeMs / 1000);
    }
  }
}

function nonEmptyFile(file: string): boolean {
  try {
    return fs.statSync(file).size > 0;
  } catch {
    return false;
  }
}

/** Act on the guard's verdict: nothing to say, a warning per overridden reason (--force),
 *  or one CRITICAL line per reason and a refusal (exit 3) before anything is written. */
function enforceGuard(ctx: SyncContext, verdict: GuardVerdict, plan?: Plan): void {
  const { log } = ctx;
  if (!verdict.reasons.length) return;
  if (verdict.ok) {
    for (const r of verdict.reasons) log.warn(`Deletion guard overridden by --force: ${r.message}`);
    return;
  }
  for (const r of verdict.reasons) log.critical(`Deletion guard: ${r.message}`);
  log.critical(`Run refused by the deletion guard (exit code 3): nothing was changed on either replica. What to do: ${refusalAdvice(verdict.reasons)}`);
  throw new GuardRefused(verdict, plan);
}

async function takeLocks(ctx: SyncContext, me: LockOwner, held: Replica[], sides: readonly Side[] = SIDES): Promise<void> {
  const { runner, log, config, flags, replicas } = ctx;
  const refusals: string[] = [];
  // One replica after the other, initiator first: of two runs racing for the same
  // replicas, the one that wins the initiator's lock also gets the target's, instead of
  // each holding one and both giving up.
  for (const side of sides) {
    if (refusals.length) break;
    if (held.includes(replicas[side])) continue; // taken with the replica check
    await (async () => {
      const r = replicas[side];
      const lockCtx = { side, remote: !!r.remote, forceStrangerLockResume: config.forceStrangerLockResume, isAlive: pidAlive };
      if (flags.forceUnlock) {
        if (await writeLock(runner, r, me, 'replace')) held.push(r);
        else refusals.push(`Cannot write lock on ${side} replica.`);
        return;
      }
      // The usual case, no lock there: one atomic create, nothing to read first.
      if (await writeLock(runner, r, me, 'create')) {
        held.push(r);
        return;
      }
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        const existing = await readLock(runner, r);
        const d = decideLock(existing, me, lockCtx);
        if (d.kind === 'refuse') {
          refusals.push(d.message);
          return;
        }
        if (d.kind === 'replace') log.log(d.level, d.notice);
        // An empty lock file counts as no lock; noclobber would trip on it, so replace it.
        const mode = d.kind === 'create' && existing === null ? 'create' : 'replace';
        if (await writeLock(runner, r, me, mode)) {
          held.push(r);
          return;
        }
        // Another run created the lock between our read and write (or is still writing
        // it: read empty): look again, a moment later.
      }
      refusals.push(`Cannot take the lock on ${side} replica [${r.workDir}/lock].`);
    })();
  }
  if (refusals.length) {
    for (const m of refusals) log.critical(m);
    throw new SyncAbort('Cancelling task.');
  }
}

function stopIfAsked(ctx: SyncContext): void {
  const why = ctx.stopRequested?.();
  if (why) throw new SyncStopped(why);
}

function phase(ctx: SyncContext, p: Phase): void {
  ctx.view?.phase(p);
  const now = performance.now();
  if (ctx.timings.length) ctx.timings[ctx.timings.length - 1].ms = now - ctx.timings[ctx.timings.length - 1].ms;
  ctx.timings.push({ phase: p, ms: now });
  testPoint(p);
}

/** "check 0.02s, lock 0.01s, …" for --verbose: where the run's time went. */
function phaseTimes(ctx: SyncContext): string {
  const t = ctx.timings;
  if (t.length) t[t.length - 1].ms = performance.now() - t[t.length - 1].ms;
  return t.map((x) => `${x.phase} ${(x.ms / 1000).toFixed(2)}s`).join(', ');
}

interface Listed {
  /** Both replicas list as the last run left them (listings not read). */
  unchanged: boolean;
  /** Replicas listed byte for byte as when their state was written (digest matched). */
  asBefore: Record<Side, boolean>;
  /** A replica's listing lines, read when asked (one listed as before usually is not). */
  lines(side: Side): string[];
  /** Paths each listing could not see into (rsync's exit 23), see PlanInput. */
  unlisted: Record<Side, string[]>;
  /** When each replica was listed, in its own clock: its racily clean files (see RacyWindow). */
  window: Record<Side, RacyWindow>;
  /** Digest of each listing, when it can stand for the replica (complete listing). */
  digests: Partial<Record<Side, string>>;
  /** Remove the listings' temporary files (lines() no longer possible). */
  done(): void;
}

/** List both replicas at once. With `known` digests (stored with the state), an
 *  unchanged listing is recognised without reading, splitting or parsing it. */
async function listBoth(ctx: SyncContext, clockOffset: Record<Side, number>, known: Partial<Record<Side, string>> = {}, onChange?: () => void): Promise<Listed> {
  const { runner, log, config, replicas } = ctx;
  phase(ctx, 'list');
  const started = Date.now();
  const window = {} as Record<Side, RacyWindow>;
  const settled = await Promise.allSettled(
    SIDES.map((side) => {
      log.notice(`Creating ${side} replica file list [${displayRoot(replicas[side])}].`);
      // The first listing that shows a change calls onChange while the other may still run.
      const onListed = ctx.view?.progress && ((n: number) => ctx.view!.progress!.listed(side, n));
      return listReplica(runner, config, replicas[side], known[side], onListed).then((res) => {
        // A second more each way for a remote clock (its offset is known to the second).
        const off = clockOffset[side];
        const margin = replicas[side].remote ? 2 : 1;
        window[side] = { from: Math.floor(started / 1000) + off - margin, to: Math.ceil(Date.now() / 1000) + off + margin };
        try {
          if (!res.unchanged) onChange?.();
        } catch {
          /* done again, and any failure reported, after both listings */
        }
        return res;
      });
    }),
  );
  const results = settled.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
  const done = () => {
    for (const res of results) res.done();
  };
  try {
    for (const x of settled) if (x.status === 'rejected') throw x.reason;
    const unlisted: Record<Side, string[]> = { initiator: [], target: [] };
    SIDES.forEach((side, i) => {
      const res = results[i];
      const r = replicas[side];
      if (res.exitCode === 23) {
        // What could not be listed is not gone: nothing at or below it is touched (a warning).
        const found = unlistedPaths(res.stderr, r.root);
        const why = found.paths.get('');
        if (why !== undefined) throw new SyncAbort(`Cannot list the ${side} replica [${displayRoot(r)}]: ${why}.`);
        for (const [p, reason] of found.paths) {
          log.warn(`Cannot list [${displayPath(p)}] in ${side} replica (${reason}): nothing at or below it is synced or deleted on either replica this run.`);
        }
        unlisted[side] = [...found.paths.keys()];
        if (found.unknown.length || !found.paths.size) {
          log.error(`Some files could not be listed in ${side} replica [${displayRoot(r)}]. Check for failing symlinks. ${found.unknown[0] ?? ''}`);
        }
      } else if (res.exitCode !== 0 && res.exitCode !== 24) {
        throw new ListingError(r, res.exitCode, res.stderr);
      }
    });
    const digests: Partial<Record<Side, string>> = {};
    results.forEach((res, i) => {
      if (res.exitCode === 0) digests[SIDES[i]] = res.digest;
    });
    const asBefore = (i: number) => results[i].unchanged && results[i].exitCode === 0;
    return {
      unchanged: asBefore(0) && asBefore(1),
      asBefore: { initiator: asBefore(0), target: asBefore(1) },
      unlisted,
      window,
      lines: (side) => results[SIDES.indexOf(side)].read().toString('latin1').split('\n'),
      digests,
      done,
    };
  } catch (e) {
    done();
    throw e;
  }
}

interface Detected {
  now: Record<Side, Listing>;
  base: Record<Side, BaseListing | null>;
  /** The base's files marked racily clean, per side (see PlanInput). */
  racy: Record<Side, Set<string>>;
  /** Lines listed unchanged on both replicas, left out of `now` and `base`. */
  same: Split['same'];
}

/** The last run's state as the split reads it. */
type BaseRead = ReturnType<StateDir['readBothBaseLines']>;

/** Listings and the last run's state, as the planner needs them: what is listed exactly as
 *  before on both replicas is set aside unparsed (lib/detect/unchanged.ts), the rest parsed. */
function detect(ctx: SyncContext, state: StateDir, listed: Listed, early?: BaseRead): Detected {
  const { config } = ctx;
  const none: Split['same'] = { lines: [], paths: [], files: 0 };
  const racy = { initiator: new Set<string>(), target: new Set<string>() };
  const parseBoth = () => ({ initiator: parseItemLines(listed.lines('initiator')), target: parseItemLines(listed.lines('target')) });
  if (config.syncType !== 'bidirectional') {
    return { now: parseBoth(), base: { initiator: null, target: null }, racy, same: none };
  }
  const { lines: baseLines, initiatorPaths } = early ?? state.readBothBaseLines();
  // CHECKSUM looks at content that keeps size and mtime: every path goes to the planner.
  if (config.checksum || !baseLines.initiator || !baseLines.target) {
    const baseOf = (s: Side) => (baseLines[s] ? parseBaseLines(baseLines[s]!, racy[s]) : state.readBase(s));
    const base = { initiator: baseOf('initiator'), target: baseOf('target') };
    // (Without CHECKSUM, a replica can list as before while the other's state lacks our
    // metadata: its listing was not kept, its state's lines are what it listed.)
    const nowOf = (s: Side) => (listed.asBefore[s] && baseLines[s] ? listedEntries(base[s]!) : parseItemLines(listed.lines(s)));
    return { now: { initiator: nowOf('initiator'), target: nowOf('target') }, base, racy, same: none };
  }
  // A replica listed as before (the other changed) is not even read: its lines are its state's.
  const now = (s: Side) => (listed.asBefore[s] ? null : listed.lines(s));
  const split = splitUnchanged({ now: { initiator: now('initiator'), target: now('target') }, base: { initiator: baseLines.initiator, target: baseLines.target }, basePaths: initiatorPaths });
  const baseI = parseBaseLines(split.rest.base.initiator, racy.initiator);
  // The same state on both sides (after a settled run) is parsed once; the planner only reads it.
  const sameState = split.rest.base.target === split.rest.base.initiator;
  const baseT = sameState ? baseI : parseBaseLines(split.rest.base.target, racy.target);
  if (sameState) racy.target = racy.initiator;
  // A replica listed as its state: its rest entries are its rest state's, already parsed.
  const nowOf = (s: Side, base: BaseListing) => (split.rest.now[s] === split.rest.base[s] ? listedEntries(base) : parseItemLines(split.rest.now[s]));
  return {
    now: { initiator: nowOf('initiator', baseI), target: nowOf('target', baseT) },
    base: { initiator: baseI, target: baseT },
    racy,
    same: split.same,
  };
}

/** State entries read from listing lines as a listing (entries are never changed: shared). */
function listedEntries(base: BaseListing): Listing {
  const out: Listing = new Map();
  for (const [p, e] of base) if (e) out.set(p, e);
  return out;
}

async function initialize(ctx: SyncContext, state: StateDir, identities: Record<Side, string | null>, clockOffset: Record<Side, number>): Promise<void> {
  ctx.log.notice('Initializing initiator and target file lists.');
  const listed = await listBoth(ctx, clockOffset);
  try {
    if (ctx.flags.dry) return;
    for (const s of SIDES) state.writeAfter(s, parseItemLines(listed.lines(s)), '-', undefined, listed.window[s]);
  } finally {
    listed.done();
  }
  for (const s of SIDES) state.writeIdentity(s, identities[s], replicaLocation(ctx.replicas[s]));
}

/** osync's resume bookkeeping. A resumed run redoes detection against the last
 *  committed base, which converges on what an uninterrupted run would have done. */
function decideResume(ctx: SyncContext, state: StateDir): void {
  const { config, log } = ctx;
  if (!config.resumeSync || config.syncType !== 'bidirectional') return;
  const count = state.readResumeCount();
  const markers = SIDES.map((s) => [s, state.readMarker(s) ?? 'synced'] as const).filter(([, m]) => m !== 'synced');
  if (!markers.length) return;
  if (count < config.resumeTry) {
    for (const [side, marker] of markers) {
      const when = state.markerTime(side)?.toISOString().replace('T', ' ').replace('Z', ' +0000') ?? '';
      log.notice(`Trying to resume aborted execution on ${when} ${side === 'initiator' ? 'at' : 'as'} task [${marker}] for ${side}. [${count}] previous tries.`);
    }
    state.writeResumeCount(count + 1);
  } else {
    if (config.resumeTry !== 0) log.warn(`Will not resume aborted execution. Too many resume tries [${count}].`);
    state.writeResumeCount(0);
  }
}

function mark(state: StateDir, step: Step): void {
  for (const s of SIDES) state.writeMarker(s, step);
}

async function synchronize(ctx: SyncContext, state: StateDir, identities: Record<Side, string | null>, clockOffset: Record<Side, number>): Promise<SyncOutcome> {
  const { config, flags, log, runner, replicas } = ctx;
  log.notice('Starting synchronization task.');
  const bidirectional = config.syncType === 'bidirectional';

  // A run refused by the deletion guard leaves the state dir as it found it: the files
  // written before the guard (resume count, markers) are put back, mtimes included.
  const saved = saveFiles([state.resumeCountFile(), ...SIDES.map((s) => state.name(s, 'last-action'))]);
  decideResume(ctx, state);
  mark(state, 'replica-tree');
  // Fast path for the common cron case: when both listings are byte-identical to the
  // ones recorded with the state, nothing changed and nothing is parsed.
  // (Not with CHECKSUM: content changes that keep size and mtime must be looked for.)
  const header = bidirectional ? { initiator: state.readHeader('initiator'), target: state.readHeader('target') } : { initiator: null, target: null };
  const known = bidirectional && !config.checksum ? { initiator: header.initiator?.digest, target: header.target?.digest } : {};
  // Files the last run marked racily clean may have changed without listing otherwise:
  // while there are any, the pair is compared path by path (they are few, and seldom).
  const racyBefore = { initiator: header.initiator?.racy ?? 0, target: header.target?.racy ?? 0 };
  // As soon as one listing shows a change, the state is read, while the
  // other listing may still run (a run with nothing to do never reads it).
  let early: BaseRead | undefined;
  const readEarly = bidirectional && !config.checksum ? () => void (early ??= state.readBothBaseLines()) : undefined;
  const listed = await listBoth(ctx, clockOffset, known, readEarly);
  const unchanged = listed.unchanged && !racyBefore.initiator && !racyBefore.target;
  if (unchanged) log.verbose('Both replicas list exactly as the last run left them: nothing changed.');
  else for (const s of SIDES) if (listed.asBefore[s]) log.verbose(`The ${s} replica lists exactly as the last run left it: only the other one changed.`);
  let detected: Detected;
  try {
    detected = unchanged
      ? { now: { initiator: new Map(), target: new Map() }, base: { initiator: null, target: null }, racy: { initiator: new Set(), target: new Set() }, same: { lines: [], paths: [], files: 0 } }
      : detect(ctx, state, listed, early);
  } finally {
    listed.done();
  }
  const { now, base, same } = detected;
  if (same.paths.length) log.verbose(`${same.paths.length} paths list exactly as at the last run on both replicas; the other paths are compared one by one.`);
  stopIfAsked(ctx);

  const input: PlanInput = {
    base,
    now,
    unlisted: listed.unlisted,
    racy: detected.racy,
    policy: {
      prevalence: config.conflictPrevalance,
      skipDeletion: config.skipDeletion,
      syncType: config.syncType,
      checksum: config.checksum,
      preservePermissions: config.preservePermissions,
      preserveExecutability: config.preserveExecutability,
      preserveOwner: config.preserveOwner,
      preserveGroup: config.preserveGroup,
    },
  };
  phase(ctx, 'plan');
  for (const s of SIDES) if (bidirectional) log.notice(`Creating ${s} replica deleted file list.`);
  if (!unchanged) await compareContent(ctx, input);
  const plan: Plan = unchanged ? { actions: [], conflicts: [], deletedOn: { initiator: [], target: [] }, settled: true } : planSync(input);
  const guard = checkGuards({
    plan,
    base,
    now,
    syncType: config.syncType,
    limits: { maxDeletePercent: config.maxDeletePercent, maxDeleteCount: config.maxDeleteCount, minFiles: config.deleteGuardMinFiles },
    identity: { recorded: { initiator: state.readIdentity('initiator'), target: state.readIdentity('target') }, current: identities },
    roots: {
      recorded: { initiator: state.readRecordedRoot('initiator'), target: state.readRecordedRoot('target') },
      current: { initiator: replicaLocation(replicas.initiator), target: replicaLocation(replicas.target) },
    },
    force: !!flags.force,
    unchangedFiles: same.files,
  });
  try {
    enforceGuard(ctx, guard, plan);
  } catch (e) {
    restoreFiles(saved);
    throw e;
  }
  if (bidirectional && !unchanged) {
    for (const s of SIDES) {
      if (listed.asBefore[s]) state.writeCurrentAsAfter(s);
      else state.writeCurrent(s, now[s], same);
    }
  }
  // A run that found nothing changed applies nothing: its marker goes from replica-tree
  // straight to synced (a run killed in between resumes from replica-tree, as any).
  if (bidirectional && !unchanged) mark(state, 'deleted-list');
  if (bidirectional) {
    // osync.sh, resuming a run of ours that was interrupted, replays these lists and
    // first wipes deleted/<path> for each entry, which would destroy soft-deleted copies
    // we already made. So while changes are applied the lists hold only what must still
    // be deleted (nothing yet: the worst an osync.sh resume can then do is bring a
    // deleted file back); the full lists are written once the run is complete.
    for (const s of SIDES) state.writeList(state.name(s, 'deleted-list'), flags.dry ? plan.deletedOn[s] : []);
    for (const s of SIDES) state.remove(state.name(s, 'failed-delete'));
  }
  logPlan(ctx, plan);
  if (config.logConflicts && plan.conflicts.length) {
    const line = (p: string) => `${displayRoot(replicas.initiator)}${p} << >> ${displayRoot(replicas.target)}${p}`;
    state.writeList(state.conflictsFile(), plan.conflicts.map(line));
  }
  stopIfAsked(ctx);

  const opts = {
    stopping: () => !!ctx.stopRequested?.() || !!ctx.aborting,
    progress: ctx.view?.progress,
    dry: flags.dry,
    stats: flags.stats,
    itemize: flags.verbose || flags.summary,
    backupSuffix: config.conflictBackupMultiple ? backupSuffix(ctx.startedAt) : undefined,
  };
  // ACL/xattr-only changes, looked for before anything is applied (which changes ctimes).
  const attributes = await findAttributeChanges(runner, log, config, replicas, plan.actions);
  stopIfAsked(ctx);

  // The after state if every action is done, written now (a large one by a thread of its
  // own, while the changes are applied) and put in place once they are.
  const afterState = (notDone: Set<Action>) => {
    const after = expectedAfter(input, plan.actions, notDone);
    // A replica that no action touched holds what it listed: its listing's digest goes
    // with its state, and the next run need not even read it if it lists the same again.
    // (Not where the state keeps the base for what was not done or not seen.)
    const blind = SIDES.some((s) => listed.unlisted[s].length > 0);
    const touched = (s: Side) => notDone.size > 0 || blind || plan.actions.some((a) => (a.kind === 'copy' && a.to === s) || (a.kind === 'delete' && a.on === s));
    const digest = (s: Side) => (touched(s) ? '-' : listed.digests[s] ?? '-');
    const keep = keptRacy(input, notDone);
    const racy = (s: Side) => ({ ...listed.window[s], keep: keep[s] });
    return { after, digests: { initiator: digest('initiator'), target: digest('target') }, racy: { initiator: racy('initiator'), target: racy('target') } };
  };
  const writesAfter = !flags.dry && bidirectional && !plan.settled;
  if (writesAfter) {
    const { after, digests, racy } = afterState(new Set());
    state.stageAfter(after, digests, same, racy);
  }

  // osync's resume marker for "changes being applied": a resumed osync.sh redoes its
  // update and deletion steps, a resumed osync-ts redoes detection; both converge.
  phase(ctx, 'delete');
  if (!unchanged) mark(state, 'update-replica');
  const failed = await applyDeletions(runner, log, config, replicas, plan.actions, opts);
  if (bidirectional && !flags.dry) {
    // Deletions that failed stay pending for osync.sh too (it retries what is listed).
    for (const s of SIDES) {
      const pending = new Set(plan.actions.filter((a) => a.kind === 'delete' && a.on !== s && failed.has(a)).map((a) => a.path));
      if (pending.size) state.writeList(state.name(s, 'deleted-list'), plan.deletedOn[s].filter((p) => pending.has(p)));
    }
  }
  stopIfAsked(ctx);
  phase(ctx, 'transfer');
  const transfers = await applyTransfers(runner, log, config, replicas, plan.actions, opts, now);
  for (const a of transfers.failed) failed.add(a);
  for (const s of SIDES) if (transfers.itemized[s].trim()) log.verbose(`rsync items for ${s}:\n${transfers.itemized[s].trim()}`);
  // Not part of the state (listings hold no ACLs): a failure is logged, the next run looks again.
  if (attributes) await applyAttributeChanges(runner, log, config, replicas, attributes, flags.dry);

  // Failed deletions are also written in osync's format, so osync.sh retries them too.
  for (const s of SIDES) {
    const f = plan.actions.filter((a) => failed.has(a) && a.kind === 'delete' && a.on === s).map((a) => a.path);
    if (f.length && !flags.dry) state.writeList(state.name(s, 'failed-delete'), f);
  }

  phase(ctx, 'commit');
  // A failed step keeps its marker, as osync: the next run (either tool) resumes there.
  if (!failed.size && !unchanged) mark(state, 'replica-tree-after');
  if (!flags.dry && bidirectional && plan.settled && !unchanged) {
    // Nothing changed since the base: record the listings' digests beside it, so that
    // the next run recognises an unchanged pair of replicas without parsing them.
    // So is a state that marked files racily clean: this run's listing times mark them again.
    for (const s of SIDES) {
      if (listed.digests[s] && (listed.digests[s] !== known[s] || racyBefore[s])) state.writeAfter(s, now[s], listed.digests[s], same, listed.window[s]);
    }
  }
  // Nothing changed anywhere: the base on disk already says what the replicas hold.
  if (writesAfter) {
    // A copy whose source vanished is recorded as not done, so the next run sees the
    // deletion (or whatever happened) afresh instead of taking the old copy for current.
    const notDone = new Set([...failed, ...transfers.vanished]);
    if (!notDone.size) await state.commitStaged(() => testPoint('commit-half'));
    else {
      await state.discardStaged();
      const { after, digests, racy } = afterState(notDone);
      state.writeAfter('initiator', after.initiator, digests.initiator, same, racy.initiator);
      testPoint('commit-half');
      state.writeAfter('target', after.target, digests.target, same, racy.target);
    }
  }
  stopIfAsked(ctx);
  if (failed.size) {
    // What was done stays recorded (and shown by --summary/--json); the rest is retried.
    log.critical(`${failed.size} action(s) failed; they will be retried on the next run.`);
    return { plan, failed, guard };
  }
  mark(state, 'synced');
  for (const s of SIDES) state.writeIdentity(s, identities[s], replicaLocation(replicas[s]));
  state.writeResumeCount(0);
  if (bidirectional && !flags.dry) for (const s of SIDES) state.writeList(state.name(s, 'deleted-list'), plan.deletedOn[s]);
  log.notice('Finished synchronization task.');
  const c = changeCounts(plan.actions, failed);
  log.notice(
    `Changes: initiator ${c.initiator.created} created, ${c.initiator.updated} updated, ${c.initiator.deleted} deleted; ` +
      `target ${c.target.created} created, ${c.target.updated} updated, ${c.target.deleted} deleted; ${plan.conflicts.length} conflict(s).`,
  );
  return { plan, failed, guard };
}

/** Files that list alike on both replicas but may differ (lib/plan/plan.ts contentSuspects):
 *  their content is compared, and for those changed on both sides, their finer mtimes
 *  read; the answers go into the planner's input. */
async function compareContent(ctx: SyncContext, input: PlanInput): Promise<void> {
  const { runner, log, config, replicas } = ctx;
  const suspects = contentSuspects(input);
  if (!suspects.length) return;
  log.verbose(`Comparing the content of ${suspects.length} file(s) that list alike on both replicas but may have changed since the last run.`);
  input.contentDiffers = await differingContent(runner, log, config, replicas, suspects);
  for (const p of input.contentDiffers) log.verbose(`[${displayPath(p)}] lists alike on both replicas but its content differs.`);
  input.newer = await newerSides(runner, replicas, contentConflicts(input));
}

function logPlan(ctx: SyncContext, plan: Plan): void {
  const { log, flags, config } = ctx;
  if (flags.dry) {
    for (const a of plan.actions) {
      const p = displayPath(a.path);
      if (a.kind === 'copy') log.notice(`Dryrun: would copy [${p}] ${a.from} → ${a.to} (${a.reason}).`);
      else if (a.kind === 'delete') log.notice(`Dryrun: would delete [${p}] on ${a.on} (${a.reason}).`);
      else log.notice(`Dryrun: would keep [${p}] on ${a.on} (${a.reason}).`);
    }
  }
  for (const a of plan.actions) {
    if (a.kind === 'copy' && a.reason === 'kept-over-deletion') {
      log.notice(`Kept [${displayPath(a.path)}]: deleted on ${a.to} but changed on ${a.from}; copying it back instead of deleting it.`);
    }
  }
  if (config.logConflicts) {
    if (plan.conflicts.length) {
      log.always('File conflicts: INITIATOR << >> TARGET');
      for (const p of plan.conflicts) log.always(`${displayRoot(ctx.replicas.initiator)}${displayPath(p)} << >> ${displayRoot(ctx.replicas.target)}${displayPath(p)}`, true);
      log.always(`There are ${plan.conflicts.length} conflictual files.`);
    } else {
      log.always('There are no conflictual files.');
    }
  }
}

/** CONFLICT_BACKUP_MULTIPLE suffix: .YYYY.MM.DD-HH.MM.SS of the run's start (local time). */
export function backupSuffix(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `.${d.getFullYear()}.${p(d.getMonth() + 1)}.${p(d.getDate())}-${p(d.getHours())}.${p(d.getMinutes())}.${p(d.getSeconds())}`;
}

export function printSummary(ctx: SyncContext, outcome: SyncOutcome): void {
  if (!outcome.plan || (outcome.guard && !outcome.guard.ok)) return;
  for (const line of summaryLines(outcome.plan.actions, outcome.failed ?? new Set(), ctx.replicas)) ctx.log.always(line, true);
}

export function hostName(): string {
  return os.hostname();
}
