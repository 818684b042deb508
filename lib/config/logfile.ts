// Where osync writes its log (§9.1).
import fs from 'node:fs';
import path from 'node:path';

export interface LogLocationOptions {
  /** Directory tried first (default /var/log); tests point it elsewhere. */
  varLogDir?: string;
  /** Directory for the ./osync.log fallback check (default process.cwd()). */
  cwd?: string;
  /** Writability test (default fs.accessSync W_OK). */
  writable?: (dir: string) => boolean;
}

function canWrite(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Log file used before the configuration is known (argument and revision errors):
 * /var/log/osync.log if /var/log is writable, else $HOME/osync.log (HOME set and
 * writable), else ./osync.log (current directory writable), else /tmp/osync.log.
 */
export function preConfigLogFile(env: NodeJS.ProcessEnv, opts: LogLocationOptions = {}): string {
  const writable = opts.writable ?? canWrite;
  const varLog = opts.varLogDir ?? '/var/log';
  const home = env['HOME'] ?? '';
  if (writable(varLog)) return path.join(varLog, 'osync.log');
  if (home !== '' && writable(home)) return path.join(home, 'osync.log');
  if (writable(opts.cwd ?? process.cwd())) return './osync.log';
  return '/tmp/osync.log';
}

/**
 * Default log file once INSTANCE_ID is known, used when LOGFILE is empty:
 * /var/log/osync.<ID>.log, else $HOME/osync.<ID>.log, else ./osync.<ID>.log.
 * An empty ID gives "osync..log", as in osync. LOGFILE is NOT consulted here: use
 * resolveLogFile(config.logFile, ...) for the final answer.
 */
export function defaultLogFile(
  instanceId: string,
  env: NodeJS.ProcessEnv,
  opts: LogLocationOptions = {},
): string {
  const writable = opts.writable ?? canWrite;
  const varLog = opts.varLogDir ?? '/var/log';
  const home = env['HOME'] ?? '';
  const name = `osync.${instanceId}.log`;
  if (writable(varLog)) return path.join(varLog, name);
  if (home !== '' && writable(home)) return path.join(home, name);
  return `./${name}`;
}

/** LOGFILE when set (used as given), otherwise the default location. */
export function resolveLogFile(
  logFileKey: string,
  instanceId: string,
  env: NodeJS.ProcessEnv,
  opts: LogLocationOptions = {},
): string {
  return logFileKey !== '' ? logFileKey : defaultLogFile(instanceId, env, opts);
}
