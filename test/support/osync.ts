// Run the real command line (`node --import tsx scripts/osync.ts ...`) as a user would.
//
//   const r = await runOsync(['--initiator=/tmp/a', '--target=/tmp/b'], { SOFT_DELETE: 'false' });
//   r.code, r.stdout, r.stderr, r.log   // log = what the run appended to its LOGFILE
//   await quickSync(a, b, ['--summary'], { CONFLICT_PREVALANCE: 'target' });
//   const conf = makeConf(dir, { INSTANCE_ID: 't1', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b });
//
// The child gets a minimal environment (PATH, HOME, TMPDIR, TZ) plus `env`, so settings
// from the developer's shell never leak into a test. LOGFILE is a fresh temp file
// unless `env.LOGFILE` is given (pass LOGFILE: '' to test the default location).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OSYNC_SCRIPT = path.join(REPO_ROOT, 'scripts', 'osync.ts');
/** tsx's loader as a file URL, so runs work from any cwd. */
const TSX_LOADER = import.meta.resolve('tsx');

/** Newest mtime (ms) among the sources a bundle is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  for (const dir of ['lib', 'scripts']) walk(path.join(REPO_ROOT, dir));
  return Math.max(newest, fs.statSync(path.join(REPO_ROOT, 'package-lock.json')).mtimeMs);
}
let sourcesAt: number | undefined;

/**
 * How a test starts a bin (`osync`, `osync-batch`): the built bundle (dist/<bin>.mjs, what
 * users run) when it is newer than every source, else the TypeScript through tsx, which
 * costs ~0.5 s more CPU per start (hundreds of runs in the suite: `make test` builds first).
 */
export function binArgv(bin: 'osync' | 'osync-batch' = 'osync'): string[] {
  const bundle = path.join(REPO_ROOT, 'dist', `${bin}.mjs`);
  sourcesAt ??= newestSource();
  const built = fs.statSync(bundle, { throwIfNoEntry: false });
  if (built && built.mtimeMs >= sourcesAt) return [process.execPath, bundle];
  return [process.execPath, '--import', TSX_LOADER, path.join(REPO_ROOT, 'scripts', `${bin}.ts`)];
}

export interface OsyncResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Contents of the run's LOGFILE ('' when it was not written). */
  log: string;
  logFile: string;
  pid: number;
}

export interface RunOptions {
  cwd?: string;
  /** Kill the run after this many ms (default 45 s). */
  timeoutMs?: number;
  /** Called once the child is spawned (e.g. to learn its pid). */
  onSpawn?: (child: ChildProcess) => void;
  /** Run as this user (numeric ids; the tests run as root): what it cannot read, it cannot list. */
  user?: { uid: number; gid: number };
}

function baseEnv(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG']) {
    const v = process.env[k];
    if (v !== undefined) e[k] = v;
  }
  return e;
}

let logCounter = 0;
let logDir: string | null = null;
/** A fresh log file name in one temp dir per test process, removed when the process exits. */
function tempLogFile(): string {
  if (!logDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'osync-ts-log-'));
    logDir = dir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return path.join(logDir, `osync-${++logCounter}.log`);
}

export function runOsync(args: string[], env: Record<string, string> = {}, opts: RunOptions = {}): Promise<OsyncResult> {
  const logFile = env['LOGFILE'] !== undefined ? env['LOGFILE'] : tempLogFile();
  const childEnv = { ...baseEnv(), ...env, LOGFILE: logFile };
  const [cmd, ...pre] = binArgv();
  const child = spawn(cmd, [...pre, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.user ?? {}),
  });
  opts.onSpawn?.(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 45_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let log = '';
      try {
        if (logFile) log = fs.readFileSync(logFile, 'utf8');
      } catch {
        log = '';
      }
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        log,
        logFile,
        pid: child.pid ?? -1,
      });
    });
  });
}

/** How quickSync reaches the target: a local path (default), or the same path on a
 *  host over ssh (set by the remote variants of the scenario files; the loopback sshd
 *  sees the same file system, so every assertion on the target's files still holds). */
export interface RemoteTargetMode {
  /** ssh://user@127.0.0.1:port/ — the target path is appended. */
  uriPrefix: string;
  args: string[];
  env: Record<string, string>;
}
let remoteMode: RemoteTargetMode | null = null;
export function useRemoteTarget(mode: RemoteTargetMode | null): void {
  remoteMode = mode;
}
export function targetIsRemote(): boolean {
  return remoteMode !== null;
}

/** Quick-sync run: `--initiator=a --target=b ...extraArgs`. */
export function quickSync(a: string, b: string, extraArgs: string[] = [], env: Record<string, string> = {}, opts: RunOptions = {}): Promise<OsyncResult> {
  if (remoteMode) {
    const target = remoteMode.uriPrefix + path.resolve(opts.cwd ?? REPO_ROOT, b);
    return runOsync([`--initiator=${a}`, `--target=${target}`, ...remoteMode.args, ...extraArgs], { ...remoteMode.env, ...env }, opts);
  }
  return runOsync([`--initiator=${a}`, `--target=${b}`, ...extraArgs], env, opts);
}

/** Write `<dir>/<name>` (default osync-test.conf) with CONFIG_FILE_REVISION=1.3.0 and the given keys. */
export function makeConf(dir: string, keys: Record<string, string>, name = 'osync-test.conf'): string {
  fs.mkdirSync(dir, { recursive: true });
  const lines = ['#!/usr/bin/env bash', '', '[GENERAL]', 'CONFIG_FILE_REVISION=1.3.0'];
  for (const [k, v] of Object.entries(keys)) lines.push(`${k}="${v.replace(/(["\\$`])/g, '\\$1')}"`);
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Fail with the run's output when it did not exit as expected (makes failures readable). */
export function explain(r: OsyncResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- log ---\n${r.log}`;
}
