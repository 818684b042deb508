// The phase display on a terminal (lib/ui/terminal.ts decides when): listr2's default
// renderer shows the run's phases, ticking each off as the sync moves on, with the
// progress of the running phase under it. Log lines are printed above the list (it is
// cleared, the lines written, the list drawn again), so every line stays on screen and
// scrolls as usual; nothing is ever written into a task once it has finished.
// The display is never the reason a run fails: if anything in it throws, it stops and
// the run goes on with plain lines. Cron, pipes and the other displays get `noView`:
// nothing of this is loaded or run.
import { createRequire } from 'node:module';
import type { Side } from '../config/types.js';
import type { Logger, ScreenSink } from '../report/log.js';
import { testFailure } from '../testpoint.js';

export const PHASES = {
  check: 'Checking replicas',
  lock: 'Locking replicas',
  list: 'Listing replicas',
  plan: 'Planning',
  delete: 'Propagating deletions',
  transfer: 'Transferring files',
  commit: 'Saving state',
  cleanup: 'Cleaning old deleted and backup files',
} as const;
export type Phase = keyof typeof PHASES;

/** Counts from the long phases, shown under the running phase. Reported as often as the
 *  work likes; shown at most a few times a second. */
export interface Progress {
  /** Entries a replica's listing holds so far. */
  listed(side: Side, entries: number): void;
  /** Items deleted (or moved to the trash) so far, of `total`. */
  deleted(done: number, total: number): void;
  /** Bytes and files copied so far, of `total` (both directions together). */
  transferred(done: { bytes: number; files: number }, total: { bytes: number; files: number }): void;
}

export interface PhaseView {
  /** The sync has reached this phase (earlier ones are done). */
  phase(p: Phase): void;
  /** Present only when progress is shown (a terminal): work need not count otherwise. */
  progress?: Progress;
  /** The run is over (`failed`: with an error or stopped): close the display; later
   *  lines are printed plainly. */
  close(failed: boolean): Promise<void>;
}

/** For cron, pipes, --silent, --json...: nothing to show beyond the log lines. */
export const noView: PhaseView = { phase: () => {}, close: async () => {} };

/** Refresh of the progress line: at most this often. */
const PROGRESS_MS = 250;
/** The transfer rate is measured over about this long. */
const RATE_WINDOW_MS = 5000;

interface Gate {
  open: () => void;
  fail: (e: Error) => void;
  promise: Promise<void>;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  promise.catch(() => undefined);
  return { open, fail, promise };
}

/** The part of a listr2 task this view uses. */
interface AnyTask {
  output: string;
  skip(message?: string): void;
}

/** The part of listr2's default renderer this view uses. */
interface DefaultRendererLike {
  update(): void;
  end(): void;
}
type RendererClass = new (...args: never[]) => DefaultRendererLike;
interface Listr2 {
  Listr: new (tasks: unknown[], options: Record<string, unknown>) => { run(): Promise<unknown> };
  DefaultRenderer: RendererClass;
}

/** listr2 colours through colorette, which reads NO_COLOR/FORCE_COLOR once, when it is
 *  loaded: load it with the environment saying what lib/ui/terminal.ts decided. */
function loadListr(colour: boolean): Listr2 {
  const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
  delete process.env.NO_COLOR;
  delete process.env.FORCE_COLOR;
  if (colour) process.env.FORCE_COLOR = '1';
  else process.env.NO_COLOR = '1';
  try {
    return createRequire(import.meta.url)('listr2') as Listr2;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export function createPhaseView(log: Logger, opts: { colour: boolean }): PhaseView {
  // The real writes, taken before listr2 replaces them (it holds back whatever else is
  // written while it draws, and prints that when it ends).
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const plain: ScreenSink = { out: (l) => void writeOut(l + '\n'), err: (l) => void writeErr(l + '\n') };

  let renderer: (DefaultRendererLike & { printAbove(write: () => void): void }) | null = null;
  let broken = false;
  /** listr2 has drawn its last frame: what comes after is printed plainly below it. */
  let ended = false;
  const giveUp = (e: unknown) => {
    if (broken) return;
    broken = true;
    log.fileOnly(`Terminal display stopped, plain lines from here on: ${(e as Error)?.message ?? e}`);
    try {
      renderer?.end();
    } catch {
      /* what it could not undo stays as it is */
    }
  };

  // Log lines are queued and printed above the list in one go (one redraw for many lines).
  const pending: Array<[toErr: boolean, line: string]> = [];
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (!pending.length) return;
    const lines = pending.splice(0);
    let written = false;
    const write = () => {
      written = true;
      for (const [toErr, line] of lines) (toErr ? writeErr : writeOut)(line + '\n');
    };
    try {
      if (renderer && !broken && !ended) renderer.printAbove(write);
      else write();
    } catch (e) {
      giveUp(e);
      if (!written) write();
    }
  };
  const queue = (toErr: boolean, line: string) => {
    pending.push([toErr, line]);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  log.screen = { out: (l) => queue(false, l), err: (l) => queue(true, l) };

  const keys = Object.keys(PHASES) as Phase[];
  const gates = keys.map(() => gate());
  const reached = new Set<Phase>();
  // The task of the phase under way, while it runs (never one that has finished).
  let current: AnyTask | null = null;
  let at = -1;
  let running: Promise<unknown> = Promise.resolve();
  try {
    const { Listr, DefaultRenderer } = loadListr(opts.colour);
    class PhaseRenderer extends DefaultRenderer {
      constructor(...args: never[]) {
        super(...args);
        renderer = this;
      }
      override update(): void {
        if (broken || ended) return;
        try {
          testFailure('display');
          super.update();
        } catch (e) {
          giveUp(e);
        }
      }
      /** Clear the list, write lines where it was, draw it again below them. */
      printAbove(write: () => void): void {
        // log-update's handle, private in listr2; absent until the first draw.
        const updater = (this as unknown as { updater?: { clear(): void } }).updater;
        if (!updater) return write();
        updater.clear();
        write();
        this.update();
      }
    }
    const list = new Listr(
      keys.map((k, i) => ({
        title: PHASES[k],
        task: async (_ctx: unknown, task: AnyTask) => {
          if (i === at) current = task;
          try {
            await gates[i].promise;
          } finally {
            if (current === task) current = null;
          }
          if (!reached.has(k)) task.skip(`${PHASES[k]}: not needed`);
        },
      })),
      {
        concurrent: false,
        exitOnError: true,
        // Our SIGINT handler (lib/main.ts) is the only one: it stops the run cleanly.
        registerSignalListeners: false,
        renderer: PhaseRenderer,
        rendererOptions: { collapseSubtasks: false },
        fallbackRendererCondition: false,
        silentRendererCondition: false,
      },
    );
    running = list.run().catch(() => undefined);
  } catch (e) {
    giveUp(e);
  }

  // Progress: the latest text, put under the running phase by a timer.
  let latest: string | null = null;
  let shown: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  const show = () => {
    if (broken || !current || latest === shown) return;
    try {
      current.output = latest ?? '';
      shown = latest;
    } catch (e) {
      giveUp(e);
    }
  };
  const report = (text: string) => {
    latest = text;
    if (!timer) timer = setInterval(show, PROGRESS_MS).unref();
  };
  const listed: Partial<Record<Side, number>> = {};
  let samples: Array<[ms: number, bytes: number]> = [];
  const progress: Progress = {
    listed(side, entries) {
      listed[side] = entries;
      report((['initiator', 'target'] as const).map((s) => `${s} ${count(listed[s] ?? 0)}`).join(', ') + ' entries listed');
    },
    deleted(done, total) {
      report(`${count(Math.min(done, total))} of ${count(total)} items`);
    },
    transferred(done, total) {
      const bytes = Math.min(done.bytes, total.bytes);
      const now = Date.now();
      if (!samples.length || now - samples[samples.length - 1][0] >= 200) samples.push([now, bytes]);
      while (samples.length > 2 && now - samples[1][0] >= RATE_WINDOW_MS) samples.shift();
      const [t0, b0] = samples[0];
      // rsync updates its count about once a second: no rate before a few of them.
      const rate = now - t0 >= 1500 ? ((bytes - b0) * 1000) / (now - t0) : 0;
      const parts = [`${size(bytes)} of ${size(total.bytes)}`, `${total.bytes ? Math.floor((bytes * 100) / total.bytes) : 100}%`];
      if (total.files > 1) parts.push(`${count(Math.min(done.files, total.files))} of ${count(total.files)} files`);
      if (rate > 0) parts.push(`${size(rate)}/s`, `${duration((total.bytes - bytes) / rate)} left`);
      report(parts.join(', '));
    },
  };

  const advanceTo = (index: number) => {
    current = null;
    latest = shown = null;
    samples = [];
    for (let i = Math.max(at, 0); i < index; i++) gates[i].open();
    at = index;
  };
  return {
    phase(p) {
      reached.add(p);
      advanceTo(keys.indexOf(p));
    },
    progress,
    async close(failed) {
      if (timer) clearInterval(timer);
      flush();
      if (failed && at >= 0) gates[at].fail(new Error('failed'));
      advanceTo(keys.length);
      await running;
      ended = true;
      flush();
      log.screen = plain;
    },
  };
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Bytes as rsync shows them (powers of 1000). */
function size(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[u]}`;
}

/** Seconds as m:ss or h:mm:ss. */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const pad = (x: number) => String(x).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}
