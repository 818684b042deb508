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
import { createPhaseView } from './ui/phases.js';
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
  // --json: stdout carries only the JSON document; screen lines go to stderr.
  if (flags.json) log.screen = { out: (l) => process.stderr.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
  log.addSecret(config.smtpPassword);
  if (config.remoteToken) log.addSecret(`_REMOTE_TOKEN=${config.remoteToken}`);
  const logFile = resolveLogFile(config.logFile, config.instanceId, io.env);
  const cannot = log.openFile(logFile);
  if (cannot && flags.json) log.screen.err(cannot);
  else if (cannot) io.stdout(cannot + '\n');

  // osync-ts trash commands: --list-trash, --restore=PATH; no sync, no hooks, no mails.
  if (flags.listTrash || flags.restore !== undefined) {
    const code = await trashCommand({ config, flags, log, runner: new Runner(log), cwd: io.cwd, stdout: io.stdout }).catch((e: Error) => {
      log.critical(`Unexpected failure: ${e.stack ?? e}`);
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
    if (stop) go = false;
    if (go) {
      // listr2 shows the phases on a terminal; cron and --silent get plain lines.
      const interactive = !!process.stdout.isTTY && !flags.json && !flags.silent && !flags.nonInteractive && !flags.errorsOnly;
      const view = createPhaseView(log, { interactive });
      const ctx: SyncContext = { config, flags, log, runner, replicas, startedAt, view, timings: [], stopRequested: () => stop?.reason ?? null };
      const watch = watchTask({
        log,
        task: 'Sync',
        since: startedAt.getTime(),
        soft: config.softMaxExecTime,
        hard: config.hardMaxExecTime,
        keepLogging: config.keepLogging,
        pids: () => runner.livePids(),
        onSoft: () => pendingMails.push(sendMail(alertCtx, currentlyRunningMail(alertCtx, 'warning'))),
        onHard: () => {
          requestStop(`Sync stopped: max hard execution time [${config.hardMaxExecTime}] exceeded. The next run will resume.`, false, true);
          pendingMails.push(sendMail(alertCtx, currentlyRunningMail(alertCtx, 'error')));
        },
      });
      try {
        outcome = await runSync(ctx);
      } finally {
        watch.stop();
        await view.close(log.errored);
      }
      if (flags.summary) printSummary(ctx, outcome);
    }
  } catch (e) {
    log.critical(`Unexpected failure: ${(e as Error).stack ?? e}`);
  }

  // The exit code is decided here, before the after hooks (osync's quit handler).
  const stopped = stop as { bySignal: boolean; erroredBefore: boolean } | null;
  // 3 (osync never uses it): refused by the deletion guard, nothing changed.
  const code = stopped?.bySignal ? (stopped.erroredBefore ? 1 : 2) : outcome.guard && !outcome.guard.ok ? 3 : log.exitCode();
  let afterFailed = false;
  if (hookCtx && (code === 0 || config.runAfterCmdOnError)) {
    afterFailed = !(await runHooks(hookCtx, 'after'));
  }
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

export type { Config, RunFlags };
