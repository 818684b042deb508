// The one place that starts processes: locally, or on a replica's host over ssh
// (with sudo when SUDO_EXEC). Every command is an argv array; the only shell text
// is a fixed script sent on stdin, and its arguments are quoted at the ssh boundary.
import type { ResultPromise } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '../report/log.js';
import type { Replica } from '../replica.js';
import { remoteCommand } from './ssh.js';

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Killed by a signal or by the timeout. */
  killed: boolean;
  timedOut: boolean;
}

export interface RunOptions {
  input?: string | Buffer;
  /** Kill the command (and its children) after this many milliseconds. */
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  /** Receive stdout line by line (latin1: bytes kept 1:1) instead of buffering it. */
  onLine?: (line: string) => void;
  /** Also receive stdout as it comes, chunk by chunk (latin1); the result still holds all
   *  of it (progress on a terminal: rsync's progress and itemised lines). */
  onOutput?: (chunk: string) => void;
  /** The command opens an ssh session (rsync to a remote replica): counted. */
  viaSsh?: boolean;
  /** Send stdout straight to this file (no pipe: rsync writes listings a line per
   *  syscall, and reading that through a pipe costs more than the listing itself). */
  stdoutFile?: string;
  /**
   * Start the command in its own process group; the timeout and killAll() then
   * signal the whole group, so a shell and everything it started stop together
   * (hooks: `sh -c 'sleep 100; ...'`).
   */
  processGroup?: boolean;
  /** Do not add the Runner's LC_ALL=C / TZ=UTC (opts.env still applies). */
  noBaseEnv?: boolean;
}

const BASE_ENV = { LC_ALL: 'C', TZ: 'UTC' };

// execa is loaded on first use: a cron run that finds nothing to do starts no process but
// the two listings (runToFile), and loading execa would add ~20 ms to its start-up.
let execaModule: Promise<typeof import('execa')> | undefined;
const loadExeca = () => (execaModule ??= import('execa'));
/** After SIGTERM, SIGKILL what is still alive this much later. */
const FORCE_KILL_MS = 5000;

/** Process ids of every descendant of `pid` (Linux /proc; [] elsewhere); `alive`: leave
 *  out zombies (exited, not yet reaped: they hold nothing). */
export function descendantPids(pid: number, alive = false): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
    } catch {
      continue;
    }
    // pid (comm) state ppid ...; comm may contain spaces and parentheses.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (alive && after[0] === 'Z') continue;
    const ppid = Number(after[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(e));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export class Runner {
  /** Children still running, so a signal can stop them all. */
  private readonly live = new Set<ResultPromise | ChildProcess>();
  /** Children started with processGroup: their group is signalled, not just them. */
  private readonly groups = new Set<ResultPromise | ChildProcess>();
  /** ssh connections opened by this run (logged at --verbose). */
  sshConnections = 0;
  /** killAll() was called: children (and theirs) may still be on their way out. */
  private signalled = false;

  constructor(private readonly log: Logger) {}

  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.log.debug(`Running [${argv.join(' ')}]`);
    if (opts.viaSsh) this.sshConnections++;
    if (opts.stdoutFile && opts.input === undefined && !opts.onLine && !opts.timeoutMs && !opts.processGroup) return this.runToFile(argv, opts.stdoutFile, opts);
    const { execa } = await loadExeca();
    // A plain file descriptor, so the child writes to the file itself (no pipe through Node).
    const stdoutFd = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w', 0o600) : undefined;
    const child = execa(argv[0], argv.slice(1), {
      input: opts.input,
      reject: false,
      encoding: 'latin1',
      buffer: { stdout: !opts.onLine && !opts.onOutput && !opts.stdoutFile, stderr: true },
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      // (execa types do not list a bare fd for stdout; node and execa accept it)
      ...((stdoutFd !== undefined ? { stdout: stdoutFd } : {}) as Record<string, never>),
      env: opts.noBaseEnv ? { ...opts.env } : { ...BASE_ENV, ...opts.env },
      cwd: opts.cwd,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: FORCE_KILL_MS,
      cleanup: true,
      detached: !!opts.processGroup,
    });
    this.live.add(child);
    if (opts.processGroup) this.groups.add(child);
    // Our own timer rather than execa's: any limit works (see longTimeout), and a group is
    // stopped whole.
    let timedOut = false;
    const timer = opts.timeoutMs
      ? longTimeout(() => {
          timedOut = true;
          if (opts.processGroup) this.killGroup(child);
          else child.kill('SIGTERM');
        }, opts.timeoutMs)
      : undefined;
    let lines: Promise<void> = Promise.resolve();
    const output: string[] = [];
    if (opts.onOutput && child.stdout) {
      const stdout = child.stdout;
      const onOutput = opts.onOutput;
      stdout.setEncoding('latin1');
      lines = new Promise<void>((resolve, reject) => {
        stdout.on('data', (chunk: string) => {
          output.push(chunk);
          onOutput(chunk);
        });
        stdout.on('end', resolve);
        stdout.on('error', reject);
      });
    } else if (opts.onLine && child.stdout) {
      // Split chunks into lines ourselves: latin1 keeps every byte of a file name as
      // one char, and it is several times cheaper than readline on 100k-line listings.
      const stdout = child.stdout;
      const onLine = opts.onLine;
      stdout.setEncoding('latin1');
      lines = new Promise<void>((resolve, reject) => {
        let rest = '';
        stdout.on('data', (chunk: string) => {
          const parts = (rest + chunk).split('\n');
          rest = parts.pop()!;
          for (const line of parts) onLine(line);
        });
        stdout.on('end', () => {
          if (rest) onLine(rest);
          resolve();
        });
        stdout.on('error', reject);
      });
    }
    try {
      const r = await child;
      await lines;
      return {
        exitCode: r.exitCode ?? (r.signal ? 128 + 15 : 1),
        stdout: opts.onOutput ? output.join('') : typeof r.stdout === 'string' ? r.stdout : '',
        stderr: typeof r.stderr === 'string' ? r.stderr : '',
        killed: !!r.signal || !!r.isTerminated || timedOut,
        timedOut,
      };
    } finally {
      if (stdoutFd !== undefined) fs.closeSync(stdoutFd);
      timer?.clear();
      this.live.delete(child);
      this.groups.delete(child);
    }
  }

  /** A listing: stdout straight into a file, stderr kept. A plain child_process (see
   *  loadExeca); stopped by killAll() like the others, and at exit if still running. */
  private runToFile(argv: string[], file: string, opts: RunOptions): Promise<RunResult> {
    const fd = fs.openSync(file, 'w', 0o600);
    return new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), {
        stdio: ['ignore', fd, 'pipe'],
        env: { ...process.env, ...(opts.noBaseEnv ? {} : BASE_ENV), ...opts.env },
        cwd: opts.cwd,
      });
      this.live.add(child);
      const stopAtExit = () => child.kill('SIGTERM');
      process.once('exit', stopAtExit);
      let stderr = '';
      child.stderr!.setEncoding('latin1');
      child.stderr!.on('data', (chunk: string) => (stderr += chunk));
      let done = false;
      const finish = (exitCode: number, killed: boolean) => {
        if (done) return;
        done = true;
        fs.closeSync(fd);
        this.live.delete(child);
        process.removeListener('exit', stopAtExit);
        resolve({ exitCode, stdout: '', stderr, killed, timedOut: false });
      };
      child.on('error', (e) => {
        stderr += `${e.message}\n`;
        finish(127, false);
      });
      child.on('close', (code, sig) => finish(code ?? (sig ? 128 + 15 : 1), !!sig));
    });
  }

  /** SIGTERM a process group, SIGKILL it if still there FORCE_KILL_MS later. */
  private killGroup(child: ResultPromise | ChildProcess): void {
    const pid = child.pid;
    if (pid === undefined) return;
    signal(-pid, 'SIGTERM');
    setTimeout(() => signal(-pid, 'SIGKILL'), FORCE_KILL_MS).unref();
  }

  /**
   * Run `words` on the replica's host: locally as an argv, or over ssh as
   * `env _REMOTE_TOKEN=… env LC_ALL=C [sudo ]<quoted words>` (sudo when SUDO_EXEC).
   */
  async runOn(replica: Replica, words: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!replica.remote) return this.run(words, opts);
    const r = replica.remote;
    return this.run([...r.sshArgv, remoteCommand(words, r.token, r.sudo)], { ...opts, viaSsh: true });
  }

  /** Pids of the children running now (for keep-alive and time-limit log lines). */
  livePids(): number[] {
    return [...this.live].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** Run a POSIX sh script (fixed text) with arguments on the replica's host. */
  async runScript(replica: Replica, script: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    // The script goes on stdin, unless stdin carries data for it (then sh -c).
    const words = opts.input === undefined ? ['sh', '-s', '--', ...args] : ['sh', '-c', script, 'sh', ...args];
    const input = opts.input ?? script;
    if (!replica.remote) return this.run(words, { ...opts, input });
    const r = replica.remote;
    return this.run([...r.sshArgv, remoteCommand(words, r.token, r.sudo)], { ...opts, input, viaSsh: true });
  }

  /** Stop every running child (on SIGINT/SIGTERM or the hard time limit). */
  killAll(): void {
    if (this.live.size) this.signalled = true;
    for (const c of this.live) {
      if (this.groups.has(c)) {
        this.killGroup(c);
        continue;
      }
      // rsync forks (generator/receiver, or ssh): stop the whole tree, leaves first.
      if (c.pid !== undefined) for (const d of descendantPids(c.pid).reverse()) signal(d, 'SIGTERM');
      c.kill('SIGTERM');
    }
  }

  /**
   * Stop every child (whole trees) and wait until no process started by this run is left,
   * SIGKILLing what outlives FORCE_KILL_MS: a replica's lock must never be released while
   * a child of the run may still write to it. Returns at once when nothing runs; false
   * when some process could not be stopped even so (the caller then keeps the locks).
   */
  async stopAll(): Promise<boolean> {
    if (!this.live.size && !this.signalled) return true;
    this.killAll();
    const forceAt = Date.now() + FORCE_KILL_MS;
    let forced = false;
    for (;;) {
      const left = descendantPids(process.pid, true);
      if (!left.length) break;
      if (forced && Date.now() > forceAt + FORCE_KILL_MS) {
        this.log.error(`Processes [${left.join(', ')}] could not be stopped.`);
        return false;
      }
      if (!forced && Date.now() > forceAt) {
        for (const p of left) signal(p, 'SIGKILL');
        forced = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.signalled = false;
    return true;
  }
}

/** Node's timers hold at most 2^31-1 ms (~24.9 days); a longer delay fires at once (with a
 *  TimeoutOverflowWarning). This one takes any delay, in steps. */
export function longTimeout(fn: () => void, ms: number): { clear(): void } {
  const MAX = 2 ** 31 - 1;
  let t: NodeJS.Timeout;
  const arm = (left: number) => {
    t = setTimeout(left > MAX ? () => arm(left - MAX) : fn, Math.min(left, MAX));
  };
  arm(ms);
  return { clear: () => clearTimeout(t) };
}
