// One invocation, start to end: read the command line, open the log, run the
// before hooks, run the sync under time control and signal handling, decide the
// exit code, run the after hooks, print the final line, send the alert mails and
// return osync's exit code. Never throws.
import os from 'node:os';
import { parseCommandLine, usageText } from './config/load.js';
import { preConfigLogFile, resolveLogFile } from './config/logfile.js';
import { ConfigError, type Config, type RunFlags } from './config/types.js';
import { Runner } from './proc/run.js';
import { makeReplicas } from './replica.js';
import { Logger } from './report/log.js';
import { printSummary, runSync, type SyncContext, type SyncOutcome } from './sync.js';
import { runHooks, type HookContext } from './hooks.js';
import { createPhaseView, noView } from './ui/phases.js';
import { chooseDisplay, useColour } from './ui/terminal.js';
import { conflictsMail, currentlyRunningMail, finishedRunMail, mailsEnabled, sendMail, type AlertContext } from './report/alerts.js';
import { watchTask } from './timelimit.js';
import { jsonReport } from './report/json.js';
import { trashCommand } from './trash.js';
import { OSYNC_COMPAT, VERSION } from './version.js';

export interface MainIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: (text: string) => void;
}

/** `date`-style stamp, e.g. "Wed Nov 25 13:42:09 UTC 2026". */
export function dateStamp(d: Date): string {
  const s = d.toString(); // "Wed Nov 25 2026 13:42:09 GMT+0000 (Coordinated Universal Time)"
  const m = /^(\w+ \w+ \d+) (\d+) (\d\d:\d\d:\d\d) GMT([+-]\d{4})/.exec(s);
  if (!m) return s;
  const tz = m[4] === '+0000' ? 'UTC' : m[4];
  return `${m[1]} ${m[3]} ${tz} ${m[2]}`;
}

export async function main(io: MainIo): Promise<number> {
  const startedAt = new Date();
  const log = new Logger({ startedAt: startedAt.getTime() });
  let command;
  try {
    command = parseCommandLine(io.argv, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.opts.silent = io.argv.includes('--silent');
    log.opts.colour = useColour(process.stderr, io.env);
    log.openFile(preConfigLogFile(io.env));
    log.critical(e.message);
    log.error('osync finished with errors.');
    log.closeFile();
    return e.exitCode;
  }
  if (command.kind === 'usage') {
    io.stdout(usageText());
    return 0;
  }
  if (command.kind === 'version') {
    io.stdout(`osync-ts ${VERSION} (osync ${OSYNC_COMPAT} compatible)\n`);
    return 0;
  }
  // Monitor mode: its own module, never loaded by a plain run.
  if (command.flags.onChanges) return (await import('./monitor/daemon.js')).runMonitor(command, io);
  const { config, flags, warnings } = command;
  Object.assign(log.opts, {
    silent: flags.silent,
    verbose: flags.verbose,
    errorsOnly: flags.errorsOnly,
    noPrefix: flags.noPrefix,
    debug: flags.debug,
  });
  // What the screen gets (phase list, plain lines, nothing, JSON): decided once, here.
  const display = chooseDisplay(flags, io.env, process.stdout);
  log.opts.colour = useColour(process.stderr, io.env);
  // A screen that went away (terminal closed, pipe to `head`) must not end the run.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  // --json: stdout carries only the JSON document; screen lines go to stderr.
  if (display === 'json') log.screen = { out: (l) => process.stderr.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
  // The remote token is in every remote command line a --verbose/--debug run logs: masked
  // there, as osync. (The SMTP password is never logged in the first place: masking its
  // every occurrence in the log would also mask a short password's letters everywhere.)
  if (config.remoteToken) log.addSecret(`_REMOTE_TOKEN=${config.remoteToken}`);
  const logFile = resolveLogFile(config.logFile, config.instanceId, io.env);
  const cannot = log.openFile(logFile);
  if (cannot && flags.json) log.screen.err(cannot);
  else if (cannot) io.stdout(cannot + '\n');

  // osync-ts trash commands: --list-trash, --restore=PATH; no sync, no hooks, no mails.
  if (flags.listTrash || flags.restore !== undefined) {
    const code = await trashCommand({ config, flags, log, runner: new Runner(log), cwd: io.cwd, stdout: io.stdout }).catch((e: Error) => {
      unexpected(log, e);
      return 1;
    });
    log.closeFile();
    return code;
  }

  const dryMark = flags.dry ? ' /!\\ DRY RUN' : '';
  log.notice('-------------------------------------------------------------');
  log.always(`${dateStamp(startedAt)} - osync-ts ${VERSION} (osync ${OSYNC_COMPAT} compatible) script begin.${dryMark}`);
  log.notice('-------------------------------------------------------------');
  log.notice(`Sync task [${config.instanceId}] launched as ${os.userInfo().username}@${os.hostname()} (PID ${process.pid})`);
  for (const w of warnings) log.warn(w);

  const runner = new Runner(log);
  const alertCtx: AlertContext = { config, flags, log, runner, startedAt, formatDate: dateStamp, pathEnv: io.env.PATH };
  const pendingMails: Promise<unknown>[] = [];

  // Stopping. osync needs two SIGINT/SIGTERM to stop a run (the first only warns);
  // here ONE signal stops it: children are killed (whole trees), runSync aborts at
  // its next boundary, locks are released, the resume markers stay, so the next
  // run resumes. Exit code 2 (as osync after a double signal) unless an ERROR had
  // been logged before the signal; errors caused by the kill itself do not count.
  let stop: { reason: string; bySignal: boolean; erroredBefore: boolean } | null = null;
  const requestStop = (reason: string, bySignal: boolean, erroredBefore: boolean) => {
    if (!stop) stop = { reason, bySignal, erroredBefore };
    runner.killAll();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop) {
      log.warn(` /!\\ WARNING: ${sig} received again; still stopping.`);
      runner.killAll();
      return;
    }
    const erroredBefore = log.errored;
    log.warn(` /!\\ WARNING: ${sig} received. Exiting osync-ts. Please wait while replicas get unlocked...`);
    requestStop(`Sync stopped by ${sig}. The next run will resume.`, true, erroredBefore);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, onSignal);
  // A bug thrown outside the run's own flow (a callback, a timer): stopped as for a
  // signal, but as an error (exit 1): children stopped, then the locks released.
  const onCrash = (e: unknown) => {
    unexpected(log, e);
    requestStop('Sync stopped after an unexpected failure. The next run will resume.', false, true);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  // SOFT/HARD_MAX_EXEC_TIME count from the start of the run, hooks included (a before
  // hook that overruns the hard limit is stopped, and the sync does not start).
  const limits = watchTask({
    log,
    task: 'Sync',
    since: startedAt.getTime(),
    soft: config.softMaxExecTime,
    hard: config.hardMaxExecTime,
    keepLogging: 0,
    pids: () => runner.livePids(),
    onSoft: () => pendingMails.push(sendMail(alertCtx, currentlyRunningMail(alertCtx, 'warning'))),
    onHard: () => {
      requestStop(`Sync stopped: max hard execution time [${config.hardMaxExecTime}] exceeded. The next run will resume.`, false, true);
      pendingMails.push(sendMail(alertCtx, currentlyRunningMail(alertCtx, 'error')));
    },
  });

  let hookCtx: HookContext | null = null;
  let outcome: SyncOutcome = {};
  try {
    const replicas = makeReplicas(config, io.cwd, os.userInfo().username);
    hookCtx = { config, flags, log, runner, replicas, cwd: io.cwd };
    // Before hooks run before replica checks and locks (osync: after the replica
    // checks, before the locks), so a hook may prepare a replica (mount a share).
    const beforeOk = await runHooks(hookCtx, 'before');
    let go = true;
    if (!beforeOk && config.stopOnCmdError) {
      log.critical('Stopping on command execution error.');
      go = false;
    }
    limits.check();
    if (stop) go = false;
    if (go) {
      // listr2 shows the phases on a terminal; cron and --silent get plain lines.
      const view = display === 'tasks' ? createPhaseView(log, { colour: useColour(process.stdout, io.env) }) : noView;
      const ctx: SyncContext = { config, flags, log, runner, replicas, startedAt, view, timings: [], stopRequested: () => stop?.reason ?? null };
      // "Still running" lines during the sync (hooks log their own).
      const watch = watchTask({ log, task: 'Sync', since: startedAt.getTime(), soft: 0, hard: 0, keepLogging: config.keepLogging, pids: () => runner.livePids() });
      try {
        outcome = await runSync(ctx);
      } finally {
        watch.stop();
        await view.close(log.errored || !!stop);
      }
      if (flags.summary) printSummary(ctx, outcome);
    }
  } catch (e) {
    // runSync has stopped its children and released the locks, in that order.
    unexpected(log, e);
  }
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);

  // The exit code is decided here, before the after hooks (osync's quit handler).
  const stopped = stop as { bySignal: boolean; erroredBefore: boolean } | null;
  // 3 (osync never uses it): refused by the deletion guard, nothing changed.
  const code = stopped?.bySignal ? (stopped.erroredBefore ? 1 : 2) : outcome.guard && !outcome.guard.ok ? 3 : log.exitCode();
  let afterFailed = false;
  if (hookCtx && (code === 0 || config.runAfterCmdOnError)) {
    afterFailed = !(await runHooks(hookCtx, 'after'));
  }
  limits.stop();
  for (const s of signals) process.off(s, onSignal);
  // Failures after this point (after hooks, mail) are logged but do not change the code.
  if (code === 1 || code === 3) log.error('osync finished with errors.');
  else if (code === 2) log.warn('osync finished with warnings.');
  else log.always('osync finished.');

  if (mailsEnabled(alertCtx)) {
    await Promise.all(pendingMails);
    // A failed after hook makes the mail an error alert even though the exit code stays.
    const kind = code === 1 || code === 3 || afterFailed ? 'error' : code === 2 ? 'warning' : 'clean';
    const mail = finishedRunMail(alertCtx, kind);
    if (mail) await sendMail(alertCtx, mail);
    const conflicts = outcome.plan?.conflicts ?? [];
    if (config.alertConflicts && conflicts.length) await sendMail(alertCtx, conflictsMail(alertCtx, conflicts));
  }
  log.closeFile();
  if (flags.json) io.stdout(JSON.stringify(jsonReport(config.instanceId, flags.dry, code, outcome), null, 2) + '\n');
  return code;
}

/** A bug: one CRITICAL line on screen and in the log, the stack in the log file at --verbose. */
function unexpected(log: Logger, e: unknown): void {
  log.critical(`Unexpected failure: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof Error && e.stack && (log.opts.verbose || log.opts.debug)) log.fileOnly(e.stack);
}

export type { Config, RunFlags };
