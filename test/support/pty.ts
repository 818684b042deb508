// Run the real command line on a pseudo-terminal, as a user at a terminal would, with
// util-linux's `script` (it makes the pty, runs the command as the terminal's session
// leader, copies its stdin into the terminal and the terminal's output to its stdout).
//
//   const t = runInPty(['--initiator=/a', '--target=/b', '--summary'], { LOGFILE: log });
//   await t.waitFor(/Transferring files/);   // what the terminal has shown so far
//   t.type('\x03');                          // Ctrl-C, as the keyboard sends it: the
//                                            // terminal sends SIGINT to its foreground group
//   const r = await t.done;                  // r.code, r.screen (escape codes kept), r.text
//
// The child gets a minimal environment (PATH, HOME, TMPDIR, TZ, LANG, TERM=xterm-256color)
// plus `env`; the terminal is 100x40 unless `cols`/`rows` say otherwise.
import { spawn } from 'node:child_process';
import { quote } from 'shell-quote';
import { REPO_ROOT, binArgv } from './osync.js';


export interface PtyResult {
  code: number | null;
  /** Everything the terminal received, escape codes included. */
  screen: string;
  /** The same without escape codes and carriage returns. */
  text: string;
}

export interface PtyRun {
  /** pid of `script` (the command runs in the terminal's session, below it). */
  pid: number;
  screen(): string;
  /** Send keys to the terminal. */
  type(keys: string): void;
  /** Resolves once the terminal has shown text matching `re` (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  done: Promise<PtyResult>;
}

/** Escape sequences (CSI, OSC and two-character ones) and carriage returns removed. */
export function plainText(screen: string): string {
  return screen
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b\][^\x07]*\x07/g, '')
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r/g, '');
}

export function runInPty(args: string[], env: Record<string, string> = {}, opts: { cols?: number; rows?: number; timeoutMs?: number } = {}): PtyRun {
  const base: Record<string, string> = { TERM: 'xterm-256color' };
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  const command = `stty cols ${opts.cols ?? 100} rows ${opts.rows ?? 40}; exec ${quote([...binArgv(), ...args])}`;
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_ROOT, env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  let screen = '';
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    screen += d;
    for (const w of waiters.splice(0)) w();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
  const done = new Promise<PtyResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin!.destroy();
      resolve({ code, screen, text: plainText(screen) });
    });
  });
  return {
    pid: child.pid!,
    screen: () => screen,
    type: (keys) => void child.stdin!.write(keys),
    waitFor(re, ms = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const end = setTimeout(() => reject(new Error(`timed out waiting for ${re} on the terminal; it shows:\n${plainText(screen)}`)), ms);
        const check = () => {
          if (re.test(plainText(screen))) {
            clearTimeout(end);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    done,
  };
}
