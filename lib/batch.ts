// osync-batch: every `*.conf` of a directory, one after the other, as osync-batch.sh
// (§12.4). A round runs each conf as `osync <conf> --silent <other flags>`; the confs
// that failed (exit 1, or 128) run again in the next round, up to --max-runs rounds, and
// no round starts once the batch has run --max-exec-time seconds. Warnings (exit 2) are
// not retried. osync-ts's deletion guard refusal (exit 3) is an error but not retried
// either: the next run would be refused the same way until someone looks.
// Lines go to /var/log/osync-batch.log (./osync-batch.log when /var/log is not
// writable), without prefix; the exit code is 1 after an error, 2 after a warning.
import fs from 'node:fs';
import path from 'node:path';
import { startLongLived, type LongLived } from './proc/long-lived.js';
import { localDateTime, Logger } from './report/log.js';

export interface BatchIo {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  /** argv that starts the osync bin (the conf and flags are appended). */
  osync: string[];
}

interface BatchArgs {
  path?: string;
  maxRuns: number;
  maxExecTime: number;
  logFile?: string;
  forwarded: string[];
  usage: boolean;
  error?: string;
}

export function parseBatchArgs(argv: string[]): BatchArgs {
  const a: BatchArgs = { maxRuns: 3, maxExecTime: 36000, forwarded: [], usage: argv.length === 0 };
  const whole = (name: string, v: string) => {
    if (/^[0-9]+$/.test(v)) return Number(v);
    a.error ??= `Bogus ${name} value [${v}]: expected a whole number.`;
    return 0;
  };
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = eq > 0 ? arg.slice(eq + 1) : '';
    if (arg === '--help' || arg === '-h' || arg === '-?') a.usage = true;
    else if (name === '--path' && eq > 0) a.path = value;
    else if (name === '--max-runs' && eq > 0) a.maxRuns = whole('--max-runs', value);
    else if (name === '--max-exec-time' && eq > 0) a.maxExecTime = whole('--max-exec-time', value);
    else if (name === '--log-file' && eq > 0) a.logFile = value;
    else a.forwarded.push(arg);
  }
  return a;
}

export function batchUsage(): string {
  return `osync-batch — run every *.conf of a directory with osync, one after the other,
and run the ones that failed again (osync-batch.sh compatible)

Usage: osync-batch --path=/etc/osync [OPTIONS] [OSYNC OPTIONS]

[OPTIONS]
--path=DIR            Directory of the .conf files (required; subdirectories are not read)
--max-runs=N          Rounds per failing conf, the first one included (default 3)
--max-exec-time=S     Start no new round after S seconds (default 36000; 0 = no limit)
--log-file=FILE       Log here instead of /var/log/osync-batch.log (osync-ts)
-h, --help            This text

[OSYNC OPTIONS] are passed to every run, after the conf file and --silent, e.g.
  osync-batch --path=/etc/osync --no-maxtime
Exit code: 0, 2 when a run ended with warnings, 1 when one still failed.
`;
}

function writableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function runBatch(io: BatchIo): Promise<number> {
  const args = parseBatchArgs(io.argv);
  if (args.usage) {
    io.stdout(batchUsage());
    return 0;
  }
  const log = new Logger({ noPrefix: true });
  const logFile = args.logFile ?? (writableDir('/var/log') ? '/var/log/osync-batch.log' : path.join(io.cwd, 'osync-batch.log'));
  const cannot = log.openFile(path.resolve(io.cwd, logFile));
  if (cannot) io.stdout(cannot + '\n');
  const finish = () => {
    log.closeFile();
    return log.exitCode();
  };
  if (args.error) {
    log.critical(args.error);
    return finish();
  }
  if (args.path === undefined) {
    log.critical('No conf file path given: osync-batch needs --path=DIR.');
    return finish();
  }
  const dir = path.resolve(io.cwd, args.path);
  let confs: string[];
  try {
    confs = fs
      .readdirSync(dir)
      .filter((n) => /\.conf$/i.test(n))
      .sort()
      .map((n) => path.join(dir, n))
      .filter((p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile());
  } catch {
    log.critical(`Cannot find conf file path [${args.path}].`);
    return finish();
  }

  let child: LongLived | null = null;
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stoppedBy) log.warn(`${sig} received: stopping the batch.`);
    stoppedBy = sig;
    child?.signal('SIGTERM');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, onSignal);

  if (confs.length === 0) log.warn(`No .conf file in [${args.path}]: nothing to run.`);
  const started = Date.now();
  log.notice(`${localDateTime(new Date())} osync batch run`);
  let runList = confs;
  for (let round = 1; round <= args.maxRuns && runList.length > 0 && !stoppedBy; round++) {
    if (args.maxExecTime > 0 && (Date.now() - started) / 1000 >= args.maxExecTime) {
      log.notice(`Max execution time [${args.maxExecTime}] reached: no new round (still failing: ${runList.map((c) => path.basename(c)).join(', ')}).`);
      break;
    }
    log.notice(`Sequential run n°${round} of osync instances for:`);
    for (const conf of runList) log.notice(path.basename(conf));
    const again: string[] = [];
    for (const conf of runList) {
      if (stoppedBy) break;
      const name = path.basename(conf);
      child = startLongLived([...io.osync, conf, '--silent', ...args.forwarded], { inheritOutput: true, env: io.env, cwd: io.cwd });
      const exit = await child.exited;
      child = null;
      const code = exit.code;
      if (code === 0) log.notice(`Instance ${name} succeed.`);
      else if (code === 2) log.warn(`Instance ${name} finished with warnings.`);
      else if (code === 3) log.error(`Instance ${name} was refused by the deletion guard (exit code [3]); not run again: check both replicas, then run it once with --force.`);
      else {
        log.error(`Instance ${name} failed with exit code [${code ?? exit.signal}].`);
        again.push(conf);
      }
    }
    runList = again;
  }
  for (const s of signals) process.off(s, onSignal);
  return finish();
}
