// The phase display on a terminal: listr2 shows the run's phases, ticking each off as
// the sync moves on, with the latest log line under the running phase. Under cron (no
// terminal), with --silent or --non-interactive, there is no display at all and the
// log lines are printed plainly, as osync prints them.
import type { Listr as ListrType } from 'listr2';
import { createRequire } from 'node:module';
import { consoleSink, type Logger, type ScreenSink } from '../report/log.js';

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

export interface PhaseView {
  /** The sync has reached this phase (earlier ones are done). */
  phase(p: Phase): void;
  /** The run is over: close the display, then print what must stay on screen. */
  close(failed: boolean): Promise<void>;
}

/** For cron and tests: nothing to show beyond the log lines. */
export const noView: PhaseView = { phase: () => {}, close: async () => {} };

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
  return { open, fail, promise };
}

/** The part of a listr2 task this view uses. */
interface AnyTask {
  output: string;
  skip(message?: string): void;
}

export function createPhaseView(log: Logger, opts: { interactive: boolean }): PhaseView {
  if (!opts.interactive) return noView;
  const keys = Object.keys(PHASES) as Phase[];
  // Each phase's task waits for the next phase to begin (or the end of the run).
  const ends = new Map<Phase, Gate>(keys.map((k) => [k, gate()]));
  const reached = new Set<Phase>();
  let current: AnyTask | null = null;
  const held: string[] = [];
  const previous: ScreenSink = log.screen;
  const sink: ScreenSink = {
    out: (line) => {
      if (current) current.output = line;
    },
    err: (line) => {
      held.push(line);
      if (current) current.output = line;
    },
  };
  log.screen = sink;

  // Loaded only on a terminal: cron runs do not pay for it at start-up.
  const { Listr } = createRequire(import.meta.url)('listr2') as { Listr: typeof ListrType };
  const list = new Listr(
    keys.map((k) => ({
      title: PHASES[k],
      task: async (_ctx: unknown, task: AnyTask) => {
        current = task;
        await ends.get(k)!.promise.finally(() => {
          // A finished task takes no more output (listr2 throws once it has dropped its buffer).
          if (current === task) current = null;
        });
        if (!reached.has(k)) task.skip(`${PHASES[k]}: not needed`);
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      renderer: 'default',
      rendererOptions: { collapseSubtasks: false },
      fallbackRenderer: 'silent',
      fallbackRendererCondition: () => !process.stdout.isTTY,
    },
  );
  const running = list.run().catch(() => undefined);

  let at = -1;
  const advanceTo = (index: number) => {
    for (let i = Math.max(at, 0); i < index; i++) ends.get(keys[i])!.open();
    at = index;
  };
  return {
    phase(p) {
      reached.add(p);
      advanceTo(keys.indexOf(p));
    },
    async close(failed) {
      if (failed && at >= 0) ends.get(keys[at])!.fail(new Error('failed'));
      advanceTo(keys.length);
      await running;
      log.screen = previous ?? consoleSink;
      // Warnings and errors stay on screen after the display is gone.
      for (const line of held) log.screen.err(line);
    },
  };
}
