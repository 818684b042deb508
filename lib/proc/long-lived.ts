// Processes that run for as long as the monitor does: the inotifywait watchers (local,
// or over ssh) and the sync children of `--on-changes`. The Runner (run.ts) waits for a
// command and collects its output; these stream instead, and are stopped by their owner.
// argv arrays only, as everywhere in lib/proc.
import { spawn } from 'node:child_process';
import { descendantPids } from './run.js';

export interface Exit {
  /** Exit code; 127 when the program could not be started; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LongLived {
  pid: number | undefined;
  exited: Promise<Exit>;
  /** Send a signal to the process only (it stops its own children). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM the process and everything it started, SIGKILL what is left after `graceMs`. */
  stopTree(graceMs?: number): void;
  /** Close its stdin (a watcher script stops when its stdin closes). */
  closeInput(): void;
}

export interface LongLivedOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout chunks, decoded as latin1 (file names keep their bytes 1:1). */
  onStdout?: (chunk: string) => void;
  /** stderr, line by line. */
  onStderrLine?: (line: string) => void;
  /** Give the child this process's stdout and stderr (a sync child writes its own screen
   *  lines), and no stdin. */
  inheritOutput?: boolean;
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export function startLongLived(argv: string[], opts: LongLivedOptions = {}): LongLived {
  const child = spawn(argv[0]!, argv.slice(1), {
    // stdin is a pipe that we never write to: it closes when we close it or when this
    // process dies, which is how a watcher script knows to stop (even after a kill -9).
    stdio: opts.inheritOutput ? ['ignore', 'inherit', 'inherit'] : ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  child.stdin?.on('error', () => { /* the child exited before we closed it */ });
  if (child.stdout) {
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => opts.onStdout?.(chunk));
  }
  if (child.stderr) {
    child.stderr.setEncoding('latin1');
    let rest = '';
    child.stderr.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const line of parts) opts.onStderrLine?.(line);
    });
    child.stderr.on('end', () => {
      if (rest) opts.onStderrLine?.(rest);
      rest = '';
    });
  }
  const stopAtExit = () => child.kill('SIGTERM');
  process.once('exit', stopAtExit);
  const exited = new Promise<Exit>((resolve) => {
    let done = false;
    const finish = (e: Exit) => {
      if (done) return;
      done = true;
      process.removeListener('exit', stopAtExit);
      resolve(e);
    };
    child.on('error', () => finish({ code: 127, signal: null }));
    child.on('close', (code, signal) => finish({ code, signal }));
  });
  let finished = false;
  void exited.then(() => (finished = true));
  return {
    pid: child.pid,
    exited,
    signal: (sig) => {
      if (!finished && child.pid !== undefined) kill(child.pid, sig);
    },
    stopTree: (graceMs = 5000) => {
      const pid = child.pid;
      if (finished || pid === undefined) return;
      const tree = [...descendantPids(pid).reverse(), pid];
      for (const p of tree) kill(p, 'SIGTERM');
      setTimeout(() => {
        if (!finished) for (const p of tree) kill(p, 'SIGKILL');
      }, graceMs).unref();
    },
    closeInput: () => {
      child.stdin?.end();
    },
  };
}
