// Run `osync <conf> --on-changes` (or --on-changes-target) as a user would, in the
// background, and watch its log file.
//
//   const d = startMonitor(conf, ['--on-changes']);
//   await d.waitLog(/#### Monitoring now\./);        // polls the log file
//   d.runs()                                         // sync children started so far
//   const r = await d.stop();                        // SIGTERM, then its OsyncResult
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { descendantPids } from '../../lib/proc/run.js';
import { runOsync, type OsyncResult } from './osync.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it returns a truthy value; throws `what` after `ms`. */
export async function waitUntil<T>(what: string | (() => string), fn: () => T, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(100);
  }
}

export interface Monitor {
  child: ChildProcess;
  logFile: string;
  done: Promise<OsyncResult>;
  log(): string;
  /** Sync children started so far (their "script begin" lines). */
  runs(): number;
  /** Waits until the log matches (from `from` on, a character offset). */
  waitLog(re: RegExp, ms?: number, from?: number): Promise<void>;
  /** Waits until the daemon has been idle ("Monitoring now." as its last line) for `quietMs`. */
  settled(quietMs?: number, ms?: number): Promise<void>;
  /** Every process the daemon has started and that still runs. */
  descendants(): number[];
  stop(signal?: NodeJS.Signals): Promise<OsyncResult>;
}

const MONITOR_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - /;

export function startMonitor(args: string[], env: Record<string, string>, logFile: string): Monitor {
  let child!: ChildProcess;
  const done = runOsync(args, { ...env, LOGFILE: logFile }, { timeoutMs: 300_000, onSpawn: (c) => (child = c) });
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const runs = () => (log().match(/ script begin\./g) ?? []).length;
  const m: Monitor = {
    child,
    logFile,
    done,
    log,
    runs,
    async waitLog(re, ms = 30_000, from = 0) {
      await waitUntil(() => `${re} in the log:\n${log()}`, () => re.test(log().slice(from)), ms);
    },
    async settled(quietMs = 1500, ms = 60_000) {
      let since = 0;
      let last = '';
      await waitUntil(() => `the monitor to settle:\n${log()}`, () => {
        const text = log();
        const monitorLines = text.split('\n').filter((l) => MONITOR_LINE.test(l));
        // No sync running (the last line is the monitor's) and nothing due.
        const idle = /#### Monitoring now\.$/.test(monitorLines[monitorLines.length - 1] ?? '') && text.trimEnd().endsWith('#### Monitoring now.');
        if (!idle || text !== last) {
          last = text;
          since = Date.now();
          return false;
        }
        return Date.now() - since >= quietMs;
      }, ms);
    },
    descendants: () => (child.pid ? descendantPids(child.pid) : []),
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return done;
    },
  };
  return m;
}
