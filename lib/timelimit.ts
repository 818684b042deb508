// Time control (osync §7): a watcher that runs beside a task and
// * logs the keep-alive NOTICE every KEEP_LOGGING seconds,
// * logs WARN once when the soft limit is exceeded (then calls onSoft),
// * logs ERROR once when the hard limit is exceeded (then calls onHard, which
//   stops the run: children killed, runSync aborts at its next boundary).
// Limits are in seconds, 0 = off, compared with "greater than" as osync does.
// For the run's limits `since` is the start of osync (osync's global clock), and they
// cover the hooks too; a hook's own limit counts from the start of that hook.
import type { Logger } from './report/log.js';

export interface WatchOptions {
  log: Logger;
  /** Task name used in the log lines (e.g. `Sync`, `RunLocalCommand`). */
  task: string;
  /** Milliseconds since epoch from which elapsed time is counted. */
  since: number;
  soft: number;
  hard: number;
  keepLogging: number;
  /** Pids of what is running now, for the log lines. */
  pids: () => number[];
  onSoft?: () => void;
  onHard?: () => void;
  /** Poll interval (ms); osync polls every 0.05 s, 200 ms is plenty for second limits. */
  tickMs?: number;
}

export interface Watch {
  stop(): void;
  /** Look at the clock now (between ticks). */
  check(): void;
  readonly softExceeded: boolean;
  readonly hardExceeded: boolean;
}

export function watchTask(o: WatchOptions): Watch {
  let softDone = false;
  let hardDone = false;
  let keepAliveCount = 0;
  const pidList = () => o.pids().join(',');
  const tick = () => {
    const elapsed = (Date.now() - o.since) / 1000;
    if (o.keepLogging > 0) {
      const due = Math.floor(elapsed / o.keepLogging);
      if (due > keepAliveCount) {
        keepAliveCount = due;
        o.log.notice(`Current tasks ID=${o.task} still running with pids [${pidList()}].`);
      }
    }
    if (o.soft > 0 && !softDone && elapsed > o.soft) {
      softDone = true;
      o.log.warn(`Max soft execution time [${o.soft}] exceeded for task [${o.task}] with pids [${pidList()}].`);
      o.onSoft?.();
    }
    if (o.hard > 0 && !hardDone && elapsed > o.hard) {
      hardDone = true;
      o.log.error(`Max hard execution time [${o.hard}] exceeded for task [${o.task}] with pids [${pidList()}]. Stopping task execution.`);
      o.onHard?.();
    }
  };
  const timer = setInterval(tick, o.tickMs ?? 200);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    check: tick,
    get softExceeded() {
      return softDone;
    },
    get hardExceeded() {
      return hardDone;
    },
  };
}
