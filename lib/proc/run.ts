// The one place that starts processes: locally, or on a replica's host over ssh
// (with sudo when SUDO_EXEC). Every command is an argv array; the only shell text
// is a fixed script sent on stdin, and its arguments are quoted at the ssh boundary.
import { execa, type ResultPromise } from 'execa';
import readline from 'node:readline';
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
}

const BASE_ENV = { LC_ALL: 'C', TZ: 'UTC' };

export class Runner {
  /** Children still running, so a signal can stop them all. */
  private readonly live = new Set<ResultPromise>();
  /** ssh connections opened by this run (logged at --verbose). */
  sshConnections = 0;

  constructor(private readonly log: Logger) {}

  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.log.debug(`Running [${argv.join(' ')}]`);
    const child = execa(argv[0], argv.slice(1), {
      input: opts.input,
      reject: false,
      encoding: 'latin1',
      buffer: { stdout: !opts.onLine, stderr: true },
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      env: { ...BASE_ENV, ...opts.env },
      cwd: opts.cwd,
      timeout: opts.timeoutMs,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: 5000,
      cleanup: true,
      detached: false,
    });
    this.live.add(child);
    let lines: Promise<void> = Promise.resolve();
    if (opts.onLine && child.stdout) {
      const rl = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
      const onLine = opts.onLine;
      lines = (async () => {
        for await (const line of rl) onLine(line);
      })();
    }
    try {
      const r = await child;
      await lines;
      return {
        exitCode: r.exitCode ?? (r.signal ? 128 + 15 : 1),
        stdout: typeof r.stdout === 'string' ? r.stdout : '',
        stderr: typeof r.stderr === 'string' ? r.stderr : '',
        killed: !!r.signal || !!r.isTerminated,
        timedOut: !!r.timedOut,
      };
    } finally {
      this.live.delete(child);
    }
  }

  /** Run a POSIX sh script (fixed text) with arguments on the replica's host. */
  async runScript(replica: Replica, script: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!replica.remote) return this.run(['sh', '-s', '--', ...args], { ...opts, input: script });
    const r = replica.remote;
    this.sshConnections++;
    const command = remoteCommand(['sh', '-s', '--', ...args], r.token, r.sudo);
    return this.run([...r.sshArgv, command], { ...opts, input: script });
  }

  /** Stop every running child (on SIGINT/SIGTERM or the hard time limit). */
  killAll(): void {
    for (const c of this.live) c.kill('SIGTERM');
  }
}
