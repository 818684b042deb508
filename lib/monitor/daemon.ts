// Monitor mode (osync §12.1, §12.2), loaded only with --on-changes / --on-changes-target.
//
// --on-changes (the initiator daemon): a sync at start, then one after each burst of
// changes (MIN_WAIT after the first change of the burst, so that the burst is over),
// and at least every MAX_WAIT seconds after the last one (0: never). Each sync is a
// child process of this same bin with the same arguments (as osync runs itself): it
// takes the locks and writes the log file as any run; the daemon takes no lock and
// writes date-prefixed lines. Changes are watched on both replicas, the target's over
// ssh when it is remote (lib/monitor/watch.ts), all the time, syncs included:
// a change made during a sync starts the next one instead of waiting for MAX_WAIT.
// (A sync's own writes to the replicas are changes too, so a sync that carried changes
// is followed by one more, which finds nothing to do.)
//
// --on-changes-target (the target helper, on the target's host): watches the target
// and, at start, after each burst and every MAX_WAIT, appends a line to the initiator's
// push file (lib/monitor/push.ts), which the initiator's daemon, osync's or ours, sees.
//
// One SIGINT/SIGTERM/SIGHUP/SIGQUIT stops the monitor: the running sync is stopped as
// a signal stops any run (its children stopped, locks released, exit 2), the watchers
// are stopped, and the monitor exits 0 (1 after an error was logged, 2 after a warning).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveLogFile } from '../config/logfile.js';
import type { Config, LoadResult } from '../config/types.js';
import type { MainIo } from '../main.js';
import { startLongLived, type LongLived } from '../proc/long-lived.js';
import { Runner } from '../proc/run.js';
import { Logger } from '../report/log.js';
import { makeReplicas, WORKDIR, type Replica } from '../replica.js';
import { helperInitiator, NO_INITIATOR_DIR, notifyInitiator, pushLine } from './push.js';
import { ChangeFilter } from './relevance.js';
import { describeArgv, Watcher, watcherArgv, type WatchEvent } from './watch.js';

/** Flags that belong to the monitor, not to the syncs it starts (osync does not pass
 *  --no-locks on either: its children always lock). */
const MONITOR_ONLY = new Set(['--on-changes', '--on-changes-target', '--no-locks']);
/** A sync child still running this long after it was asked to stop is killed. */
const CHILD_STOP_GRACE_MS = 60_000;

/** node, its own flags (tsx's loader in a checkout) and the script: this very bin. */
function ownCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!];
}

/** Collects watched changes into one "a sync is due" flag. Events are checked one
 *  batch at a time, and not at all once a sync is due anyway. */
class ChangeTracker {
  private due = false;
  private readonly pending = new Map<string, { side: string; event: WatchEvent }>();
  private checking = false;
  private wake: (() => void) | null = null;

  constructor(private readonly filter: ChangeFilter, private readonly log: Logger) {}

  add(side: string, events: WatchEvent[]): void {
    if (this.due) return;
    for (const e of events) this.pending.set(`${side}\0${e.overflow ? '\0overflow' : e.path}`, { side, event: e });
    void this.check();
  }

  /** A sync is due (a relevant change, or a watch was lost and changes may have gone unseen). */
  mark(): void {
    this.due = true;
    this.pending.clear();
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Whether a sync is due; clears it: changes from now on are for the next one. */
  take(): boolean {
    const d = this.due;
    this.due = false;
    return d;
  }

  /** Calls `fn` once when a sync becomes due; returns a function that cancels it. */
  onDue(fn: () => void): () => void {
    if (this.due) {
      fn();
      return () => {};
    }
    this.wake = fn;
    return () => {
      if (this.wake === fn) this.wake = null;
    };
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      while (!this.due && this.pending.size) {
        const batch = [...this.pending.values()];
        this.pending.clear();
        for (const side of new Set(batch.map((b) => b.side))) {
          const events = batch.filter((b) => b.side === side).map((b) => b.event);
          let hit: string | null = '(unchecked)';
          try {
            hit = await this.filter.matters(events);
          } catch (e) {
            this.log.debug(`Change check failed, the change counts: ${(e as Error).message}`);
          }
          if (hit === null) {
            this.log.debug(`Ignored ${events.length} change(s) on the ${side} replica that no sync looks at.`);
            continue;
          }
          this.log.verbose(`Change on the ${side} replica: [${Buffer.from(hit, 'latin1').toString()}].`);
          this.mark();
          break;
        }
      }
    } finally {
      this.checking = false;
    }
  }
}

/** The stop request, and waits that end early when it comes. */
class StopSignal {
  requested = false;
  private readonly waiters = new Set<() => void>();

  fire(): void {
    this.requested = true;
    for (const w of [...this.waiters]) w();
    this.waiters.clear();
  }

  /** Resolves 'stop' on a stop request, 'change' when the tracker has a sync due,
   *  'timeout' after `ms` (null: no timeout). */
  wait(ms: number | null, tracker?: ChangeTracker): Promise<'stop' | 'change' | 'timeout'> {
    if (this.requested) return Promise.resolve('stop');
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let cancelDue = () => {};
      const finish = (why: 'stop' | 'change' | 'timeout') => {
        if (timer) clearTimeout(timer);
        cancelDue();
        this.waiters.delete(onStop);
        resolve(why);
      };
      const onStop = () => finish('stop');
      this.waiters.add(onStop);
      if (ms !== null) timer = setTimeout(() => finish('timeout'), ms);
      if (tracker) cancelDue = tracker.onDue(() => finish('change'));
    });
  }
}

export async function runMonitor(load: LoadResult, io: MainIo): Promise<number> {
  const { config, flags } = load;
  const log = new Logger({
    silent: flags.silent,
    verbose: flags.verbose,
    errorsOnly: flags.errorsOnly,
    noPrefix: flags.noPrefix,
    datePrefix: true,
    debug: flags.debug,
  });
  log.addSecret(config.smtpPassword);
  if (config.remoteToken) log.addSecret(`_REMOTE_TOKEN=${config.remoteToken}`);
  const cannot = log.openFile(resolveLogFile(config.logFile, config.instanceId, io.env));
  if (cannot) io.stdout(cannot + '\n');

  const runner = new Runner(log);
  const stop = new StopSignal();
  const watchers: Watcher[] = [];
  let child: LongLived | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.requested) {
      child?.signal('SIGTERM');
      return;
    }
    log.notice(`${sig} received: stopping the monitor.`);
    // The running sync stops as a signal stops any run: its children, then its locks.
    const c = child;
    if (c) {
      c.signal('SIGTERM');
      setTimeout(() => c.stopTree(1000), CHILD_STOP_GRACE_MS).unref();
    }
    runner.killAll();
    for (const w of watchers) void w.stop();
    stop.fire();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, onSignal);

  let failed = false;
  try {
    const monitor = new Monitor(config, flags.onChanges === 'target', io, log, runner, stop, watchers, (c) => (child = c));
    failed = !(await monitor.run());
  } catch (e) {
    log.critical(`Unexpected failure: ${(e as Error).stack ?? e}`);
    failed = true;
  } finally {
    await Promise.all(watchers.map((w) => w.stop()));
    for (const s of signals) process.off(s, onSignal);
  }
  const code = failed ? 1 : log.exitCode();
  if (code === 1) log.error('osync finished with errors.');
  else if (code === 2) log.warn('osync finished with warnings.');
  else log.always('osync finished.');
  log.closeFile();
  return code;
}

class Monitor {
  private readonly tracker: ChangeTracker;

  constructor(
    private readonly config: Config,
    private readonly helper: boolean,
    private readonly io: MainIo,
    private readonly log: Logger,
    private readonly runner: Runner,
    private readonly stop: StopSignal,
    private readonly watchers: Watcher[],
    private readonly setChild: (c: LongLived | null) => void,
  ) {
    this.tracker = new ChangeTracker(new ChangeFilter(config, runner, !helper), log);
  }

  /** false after a CRITICAL (the monitor could not start). */
  async run(): Promise<boolean> {
    const { config, log, helper } = this;
    const localUser = os.userInfo().username;
    log.notice(helper ? '#### Running osync in target helper file monitor mode.' : '#### Running osync in initiator file monitor mode.');
    const watchedDir = helper ? config.targetSyncDir : config.initiatorSyncDir;
    if (helper && watchedDir.startsWith('ssh://')) {
      log.critical(`The target helper runs on the target's host: TARGET_SYNC_DIR must be a local directory, not [${watchedDir}].`);
      return false;
    }
    let local: Replica;
    let other: Replica | undefined;
    let initiator: Replica | undefined;
    try {
      if (helper) {
        const root = path.resolve(this.io.cwd, config.targetSyncDir);
        local = { side: 'target', root, workDir: `${root}/${WORKDIR}`, stateDir: `${root}/${WORKDIR}/state` };
        initiator = helperInitiator(config, this.io.cwd, localUser);
      } else {
        const r = makeReplicas(config, this.io.cwd, localUser);
        local = r.initiator;
        other = r.target;
      }
    } catch (e) {
      log.critical((e as Error).message);
      return false;
    }
    if (!isDir(local.root)) {
      log.critical(`${helper ? 'Target' : 'Initiator'} directory [${watchedDir}] does not exist. Cannot monitor.`);
      return false;
    }

    // The first sync starts once the local watch is in place (or has failed: it is
    // retried), so that nothing changed during that sync goes unseen.
    let missing = false;
    await new Promise<void>((ready) => {
      this.watch(local, { ready, onMissing: () => (missing = true), onExit: ready });
      void this.stop.wait(null).then(() => ready());
    });
    if (missing) {
      log.critical('No inotifywait command found. Cannot monitor changes (install inotify-tools).');
      return false;
    }
    // The target too, so that its changes need not wait for MAX_WAIT: over ssh when it
    // is remote (a missing target directory is retried: the first sync may create it).
    if (other) {
      const host = other.remote?.target.host ?? 'localhost';
      this.watch(other, {
        onMissing: () => {
          const when = config.maxWait > 0 ? `at least every MAX_WAIT (${config.maxWait} s)` : 'only with changes on the initiator (MAX_WAIT=0)';
          log.warn(`inotifywait is not installed on the target host [${host}]: changes made there are synced ${when}. Install inotify-tools there, then restart the daemon.`);
        },
      });
    }

    const act = helper ? () => this.notify(initiator!) : () => this.runChild();
    await act();
    while (!this.stop.requested) {
      log.notice('#### Monitoring now.');
      let due = this.tracker.take(); // a change seen while the last sync ran
      if (!due) {
        const why = await this.stop.wait(config.maxWait > 0 ? config.maxWait * 1000 : null, this.tracker);
        if (why === 'stop') break;
        if (why === 'timeout') log.notice(`#### ${config.maxWait} timeout reached, running ${helper ? 'trigger' : 'sync'}.`);
        due = why === 'change';
      }
      if (due) {
        log.notice(`#### Changes detected, waiting ${config.minWait} seconds before running next ${helper ? 'trigger' : 'sync'}.`);
        if ((await this.stop.wait(config.minWait * 1000)) === 'stop') break;
      }
      this.tracker.take(); // what changed until now, this sync sees
      await act();
    }
    return true;
  }

  private watch(replica: Replica, on: { ready?: () => void; onMissing: () => void; onExit?: () => void }): void {
    const argv = watcherArgv(this.config, replica);
    this.log.debug(`Watch cmd: [${describeArgv(argv)}]`);
    const w = new Watcher({
      side: replica.side,
      argv,
      root: replica.root,
      log: this.log,
      onEvents: (events) => this.tracker.add(replica.side, events),
      onEstablished: (again) => {
        on.ready?.();
        if (again) this.tracker.mark();
      },
      onMissing: on.onMissing,
      onExit: on.onExit,
    });
    this.watchers.push(w);
    if (!this.stop.requested) w.start();
  }

  /** One sync: this bin again, with the monitor's arguments minus the monitor flags. */
  private async runChild(): Promise<void> {
    const argv = [...ownCommand(), ...this.io.argv.filter((a) => !MONITOR_ONLY.has(a))];
    this.log.debug(`Daemon cmd: [${argv.join(' ')}]`);
    // Its screen lines go where ours go (the journal under systemd).
    const child = startLongLived(argv, { inheritOutput: true, env: this.io.env, cwd: this.io.cwd });
    this.setChild(child);
    const exit = await child.exited;
    this.setChild(null);
    // 0 and 2 (warnings, or stopped by our signal) are fine, as for osync's daemon; so is
    // a child that our stop caught before it could handle signals (killed by it).
    if (exit.code === null && this.stop.requested) return;
    if (exit.code !== 0 && exit.code !== 2) {
      this.log.error(`osync child exited with error [${exit.code ?? exit.signal}].`);
    }
  }

  /** The target helper's action: a line in the initiator's push file. */
  private async notify(initiator: Replica): Promise<void> {
    const r = await notifyInitiator(this.runner, initiator, pushLine(this.config.instanceId, new Date()));
    if (this.stop.requested && r.exitCode !== 0) return;
    if (r.exitCode === 0) this.log.notice(`Initiator of instance [${this.config.instanceId}] should be notified of file changes now.`);
    else if (r.exitCode === NO_INITIATOR_DIR) this.log.error(`Cannot find initiator replica dir [${initiator.root}].`);
    else {
      const why = r.stderr.trim().split('\n').pop() ?? '';
      this.log.error(`Could not notify the ${initiator.remote ? 'remote' : 'local'} initiator of file changes (exit code ${r.exitCode})${why ? `: ${why}` : '.'}`);
    }
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
