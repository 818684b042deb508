// One invocation, start to end: read the command line, open the log, run the sync,
// print the final line and return osync's exit code. Never throws.
import os from 'node:os';
import { parseCommandLine, usageText } from './config/load.js';
import { preConfigLogFile, resolveLogFile } from './config/logfile.js';
import { ConfigError, type Config, type RunFlags } from './config/types.js';
import { Runner } from './proc/run.js';
import { makeReplicas } from './replica.js';
import { Logger } from './report/log.js';
import { printSummary, runSync, type SyncContext } from './sync.js';
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
  const { config, flags, warnings } = command;
  Object.assign(log.opts, {
    silent: flags.silent,
    verbose: flags.verbose,
    errorsOnly: flags.errorsOnly,
    noPrefix: flags.noPrefix,
    debug: flags.debug,
  });
  log.addSecret(config.smtpPassword);
  if (config.remoteToken) log.addSecret(`_REMOTE_TOKEN=${config.remoteToken}`);
  const logFile = resolveLogFile(config.logFile, config.instanceId, io.env);
  const cannot = log.openFile(logFile);
  if (cannot) io.stdout(cannot + '\n');

  const dryMark = flags.dry ? ' /!\\ DRY RUN' : '';
  log.notice('-------------------------------------------------------------');
  log.always(`${dateStamp(startedAt)} - osync-ts ${VERSION} (osync ${OSYNC_COMPAT} compatible) script begin.${dryMark}`);
  log.notice('-------------------------------------------------------------');
  log.notice(`Sync task [${config.instanceId}] launched as ${os.userInfo().username}@${os.hostname()} (PID ${process.pid})`);
  for (const w of warnings) log.warn(w);

  const runner = new Runner(log);
  let stopReason: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopReason) return;
    stopReason = `Stopped by ${sig}.`;
    log.warn(` /!\\ WARNING: ${sig} received. Stopping osync-ts; replicas get unlocked and the next run resumes.`);
    runner.killAll();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, onSignal);

  try {
    const replicas = makeReplicas(config, io.cwd, os.userInfo().username);
    const ctx: SyncContext = { config, flags, log, runner, replicas, startedAt, stopRequested: () => stopReason };
    const outcome = await runSync(ctx);
    if (flags.summary) printSummary(ctx, outcome);
  } catch (e) {
    log.critical(`Unexpected failure: ${(e as Error).stack ?? e}`);
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
  const code = log.exitCode();
  if (code === 1) log.error('osync finished with errors.');
  else if (code === 2) log.warn('osync finished with warnings.');
  else log.always('osync finished.');
  log.closeFile();
  return code;
}

export type { Config, RunFlags };
