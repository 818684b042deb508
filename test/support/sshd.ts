// A real OpenSSH server on 127.0.0.1 for the remote tests.
//
//   const sshd = await startSshd();          // must run as root, needs /usr/sbin/sshd
//   try {
//     const r = await sshRun(sshd, 'root', 'id -un');           // { code: 0, stdout: 'root\n', ... }
//     const opts = sshdClientOptions(sshd, 'user');             // SshOptions for lib/proc/ssh.ts
//     const t = sshdTarget(sshd, sshd.user, '/some/abs/path');  // SshTarget
//     // rsync -e rsyncRemoteShell(opts, t) ... `${sshd.user}@127.0.0.1:/some/abs/path/`
//   } finally {
//     await sshd.stop();
//   }
//
// Every call starts its own sshd (own temp dir, own random port), so test files
// running in parallel do not interfere. Keys (ed25519, no passphrase):
//   rootKey   -> logs in as root
//   userKey   -> logs in as `osyncremote` (non-root, password-less sudo)
//   filterKey -> accepted for root AND osyncremote, but with a forced command:
//                <dir>/filter.sh <token>, a stand-in for osync's ssh_filter.sh that
//                runs the command only if it contains `env _REMOTE_TOKEN=<token>`.
// The known_hosts file holds the host key for [127.0.0.1]:port and [localhost]:port.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { SshOptions, SshTarget } from '../../lib/proc/ssh.js';
import { sshArgv } from '../../lib/proc/ssh.js';

export interface TestSshd {
  port: number;
  dir: string;
  rootKey: string;
  userKey: string;
  /** Non-root user with password-less sudo. */
  user: string;
  /** Key whose authorized_keys line has a forced command (the ssh_filter stand-in). */
  filterKey: string;
  token: string;
  knownHosts: string;
  stop(): Promise<void>;
}

export type KeyName = 'root' | 'user' | 'filter';

export const REMOTE_USER = 'osyncremote';
export const SSHD_HOST = '127.0.0.1';
const SSHD_BIN = '/usr/sbin/sshd';
const SUDOERS_FILE = '/etc/sudoers.d/osync-ts-test';
const FILTER_REFUSAL = 'Syntax error near unexpected token';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a program (no shell); never throws for a non-zero exit. */
export function runProgram(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`Cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => { /* the program may exit before reading */ });
      child.stdin!.end(opts.input);
    }
  });
}

async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await runProgram(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// System set-up shared by all instances (idempotent, safe when several test
// processes do it at the same time: every step re-checks and retries).

async function shadowField(user: string): Promise<string | undefined> {
  const r = await runProgram('getent', ['shadow', user]);
  if (r.code !== 0) return undefined;
  return r.stdout.split(':')[1];
}

async function userExists(user: string): Promise<boolean> {
  return (await runProgram('id', ['-u', user])).code === 0;
}

async function retry<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(100 + randomInt(200));
  }
  throw new Error(`${what} did not succeed: ${last}`);
}

async function ensureRemoteUser(): Promise<void> {
  await retry(`creating user ${REMOTE_USER}`, async () => {
    if (await userExists(REMOTE_USER)) return true;
    // useradd fails if another process holds the passwd lock or won the race; retry re-checks.
    await must('useradd', ['-m', '-s', '/bin/sh', REMOTE_USER]);
    return true;
  });
  // With UsePAM no, sshd refuses accounts whose password field starts with '!'
  // (locked). '*' means "no password login" without being locked.
  await retry(`unlocking user ${REMOTE_USER} for key logins`, async () => {
    const pw = await shadowField(REMOTE_USER);
    if (pw !== undefined && !pw.startsWith('!')) return true;
    await must('usermod', ['-p', '*', REMOTE_USER]);
    return undefined; // re-check
  });
  const home = (await must('getent', ['passwd', REMOTE_USER])).trim().split(':')[5];
  if (home && !fs.existsSync(home)) {
    await fsp.mkdir(home, { recursive: true, mode: 0o755 });
    await must('chown', [`${REMOTE_USER}:`, home]);
  }
}

async function ensureSudoers(): Promise<void> {
  const content = `# Written by osync-ts test/support/sshd.ts: test user with password-less sudo.\n${REMOTE_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
  try {
    if (fs.readFileSync(SUDOERS_FILE, 'utf8') === content && (fs.statSync(SUDOERS_FILE).mode & 0o777) === 0o440) return;
  } catch { /* missing */ }
  await fsp.mkdir(path.dirname(SUDOERS_FILE), { recursive: true, mode: 0o755 });
  // sudo ignores files with a '.' in their name, so the temporary file is never read half-written.
  const tmp = `${SUDOERS_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fsp.writeFile(tmp, content, { mode: 0o440 });
  await fsp.chmod(tmp, 0o440);
  if (fs.existsSync('/usr/sbin/visudo')) {
    const r = await runProgram('/usr/sbin/visudo', ['-cf', tmp]);
    if (r.code !== 0) {
      await fsp.rm(tmp, { force: true });
      throw new Error(`visudo rejected the test sudoers file: ${r.stderr.trim()}`);
    }
  }
  await fsp.rename(tmp, SUDOERS_FILE);
}

// ---------------------------------------------------------------------------

function filterScript(): string {
  return `#!/bin/sh
# Test stand-in for osync's ssh_filter.sh (forced command of the filter key).
# Usage in authorized_keys: command="<this file> <token>" ssh-ed25519 AAAA...
# Runs the requested command only if it carries "env _REMOTE_TOKEN=<token>".
token="$1"
cmd="\${SSH_ORIGINAL_COMMAND-}"
case "$cmd" in
  *"env _REMOTE_TOKEN=$token"*)
    exec /bin/sh -c "$cmd"
    ;;
esac
echo "${FILTER_REFUSAL}" >&2
exit 1
`;
}

function sshdConfig(dir: string, port: number, usePam: boolean): string {
  return [
    '# osync-ts test sshd (test/support/sshd.ts)',
    `Port ${port}`,
    `ListenAddress ${SSHD_HOST}`,
    'AddressFamily inet',
    `HostKey ${dir}/ssh_host_ed25519_key`,
    `PidFile ${dir}/sshd.pid`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    `UsePAM ${usePam ? 'yes' : 'no'}`,
    'StrictModes no',
    `AuthorizedKeysFile ${dir}/authorized_keys/%u`,
    'AuthorizedPrincipalsFile none',
    'PermitUserEnvironment no',
    'X11Forwarding no',
    'PrintMotd no',
    'UseDNS no',
    'MaxStartups 200',
    'MaxSessions 100',
    'LogLevel INFO',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, SSHD_HOST, () => srv.close(() => resolve(true)));
  });
}

/** Resolves true once the port answers with an SSH banner. */
function bannerOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: SSHD_HOST, port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\n')) done(buf.startsWith('SSH-2.0-'));
    });
    sock.on('end', () => done(false));
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgot stop(): do not leave sshd daemons behind.
  process.on('exit', () => {
    for (const c of live) {
      try { c.kill('SIGTERM'); } catch { /* gone */ }
    }
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => { if (!exited(child)) child.kill('SIGKILL'); }, 5000);
  await gone;
  clearTimeout(t);
}

async function readLog(file: string): Promise<string> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts a private sshd on 127.0.0.1:<random port>. Requires root. */
export async function startSshd(): Promise<TestSshd> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('startSshd() must run as root (it starts sshd and manages the test user).');
  }
  if (!fs.existsSync(SSHD_BIN)) {
    throw new Error(`${SSHD_BIN} not found: install openssh-server (apt-get install -y openssh-server).`);
  }

  let base = os.tmpdir();
  if (!/^[A-Za-z0-9_./-]+$/.test(base)) base = '/tmp'; // the path goes into sshd_config and a forced command
  const dir = await fsp.mkdtemp(path.join(base, 'osync-ts-sshd-'));
  let child: ChildProcess | undefined;
  try {
    // The login users read their authorized_keys and run filter.sh from here.
    await fsp.chmod(dir, 0o755);
    const keyFiles = {
      host: path.join(dir, 'ssh_host_ed25519_key'),
      root: path.join(dir, 'id_root'),
      user: path.join(dir, 'id_user'),
      filter: path.join(dir, 'id_filter'),
    };
    await Promise.all([
      ...Object.entries(keyFiles).map(([name, file]) =>
        must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `osync-ts-test-${name}`, '-f', file])),
      ensureRemoteUser(),
      ensureSudoers(),
      fsp.mkdir('/run/sshd', { recursive: true, mode: 0o755 }),
    ]);

    const token = `osyncTest_${randomBytes(8).toString('hex')}`;
    const pub = async (f: string) => (await fsp.readFile(`${f}.pub`, 'utf8')).trim();
    const [hostPub, rootPub, userPub, filterPub] = await Promise.all(
      [keyFiles.host, keyFiles.root, keyFiles.user, keyFiles.filter].map(pub),
    );
    const filterPath = path.join(dir, 'filter.sh');
    await fsp.writeFile(filterPath, filterScript(), { mode: 0o755 });
    await fsp.chmod(filterPath, 0o755);
    // Run through /bin/sh so a noexec /tmp does not matter.
    const filterLine = `command="/bin/sh ${filterPath} ${token}" ${filterPub}`;
    const akDir = path.join(dir, 'authorized_keys');
    await fsp.mkdir(akDir, { mode: 0o755 });
    await fsp.chmod(akDir, 0o755);
    await fsp.writeFile(path.join(akDir, 'root'), `${rootPub}\n${filterLine}\n`, { mode: 0o644 });
    await fsp.writeFile(path.join(akDir, REMOTE_USER), `${userPub}\n${filterLine}\n`, { mode: 0o644 });

    // Without PAM, sshd refuses a locked root account; we never touch root's
    // password, so fall back to PAM in that (unusual) case.
    const rootPw = await shadowField('root');
    const usePam = rootPw !== undefined && rootPw.startsWith('!') && fs.existsSync('/etc/pam.d/sshd');

    const configFile = path.join(dir, 'sshd_config');
    const logFile = path.join(dir, 'sshd.log');
    let port = 0;
    let lastError = '';
    for (let attempt = 0; attempt < 12 && port === 0; attempt++) {
      const candidate = randomInt(20000, 61000);
      if (!(await portIsFree(candidate))) continue;
      await fsp.writeFile(configFile, sshdConfig(dir, candidate, usePam), { mode: 0o644 });
      if (attempt === 0) {
        const t = await runProgram(SSHD_BIN, ['-t', '-f', configFile]);
        if (t.code !== 0) throw new Error(`sshd rejected its test configuration: ${t.stderr.trim()}`);
      }
      const logFd = fs.openSync(logFile, 'w');
      const c = spawn(SSHD_BIN, ['-D', '-e', '-f', configFile], { stdio: ['ignore', logFd, logFd] });
      fs.closeSync(logFd);
      c.unref();
      child = c;
      live.add(c);
      installExitHook();
      c.on('exit', () => live.delete(c));
      c.on('error', () => { /* reported through exitCode below */ });

      const deadline = Date.now() + 15_000;
      let up = false;
      while (Date.now() < deadline && !exited(c)) {
        if (await bannerOnce(candidate)) { up = true; break; }
        await sleep(50);
      }
      // Make sure the banner came from OUR sshd (another process may own the port).
      if (up && !exited(c)) {
        const scan = await runProgram('ssh-keyscan', ['-T', '5', '-t', 'ed25519', '-p', String(candidate), SSHD_HOST], { timeoutMs: 10_000 });
        const hostB64 = hostPub.split(/\s+/)[1]!;
        if (scan.stdout.includes(hostB64) && !exited(c)) {
          port = candidate;
          break;
        }
      }
      lastError = await readLog(logFile);
      await stopChild(c);
      child = undefined;
    }
    if (port === 0) throw new Error(`Could not start the test sshd. Last log:\n${lastError}`);

    const hostKeyText = hostPub.split(/\s+/).slice(0, 2).join(' ');
    const knownHosts = path.join(dir, 'known_hosts');
    await fsp.writeFile(knownHosts, `[${SSHD_HOST}]:${port} ${hostKeyText}\n[localhost]:${port} ${hostKeyText}\n`, { mode: 0o644 });

    const running = child!;
    let stopped = false;
    return {
      port,
      dir,
      rootKey: keyFiles.root,
      userKey: keyFiles.user,
      user: REMOTE_USER,
      filterKey: keyFiles.filter,
      token,
      knownHosts,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopChild(running);
        await fsp.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child) await stopChild(child);
    await fsp.rm(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Client helpers.

export function keyPath(sshd: TestSshd, key: KeyName): string {
  return key === 'root' ? sshd.rootKey : key === 'user' ? sshd.userKey : sshd.filterKey;
}

/** Login user a key is meant for: root for 'root', osyncremote for 'user' and 'filter'. */
export function defaultUser(sshd: TestSshd, key: KeyName): string {
  return key === 'root' ? 'root' : sshd.user;
}

/** Options that make ssh talk only to this sshd: its known_hosts, only the given key, no user config. */
export function sshdClientArgs(sshd: TestSshd): string[] {
  return [
    '-F', 'none',
    '-o', `UserKnownHostsFile=${sshd.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR',
  ];
}

/** SshOptions (lib/proc/ssh.ts) for this sshd with the given key. */
export function sshdClientOptions(sshd: TestSshd, key: KeyName, extra: Partial<SshOptions> = {}): SshOptions {
  return {
    privateKey: keyPath(sshd, key),
    passwordFile: '',
    krb5: false,
    compression: false,
    ignoreKnownHosts: false,
    ...extra,
    optionalArgs: [...sshdClientArgs(sshd), ...(extra.optionalArgs ?? [])],
  };
}

export function sshdTarget(sshd: TestSshd, user: string, remotePath: string): SshTarget {
  return { user, host: SSHD_HOST, port: sshd.port, path: remotePath };
}

/** The ssh:// URI of a path on this sshd (`//abs` for absolute paths). */
export function sshdUri(sshd: TestSshd, user: string, remotePath: string): string {
  return `ssh://${user}@${SSHD_HOST}:${sshd.port}/${remotePath}`;
}

export interface SshRunOptions extends RunOptions {
  /** Login user; defaults to defaultUser(sshd, key). */
  user?: string;
}

/** Runs `command` (a string for the remote login shell) over ssh with one of the test keys. */
export function sshRun(sshd: TestSshd, key: KeyName, command: string, opts: SshRunOptions = {}): Promise<RunResult> {
  const argv = sshArgv(sshdClientOptions(sshd, key), sshdTarget(sshd, opts.user ?? defaultUser(sshd, key), ''));
  return runProgram(argv[0]!, [...argv.slice(1), command], opts);
}

export const FILTER_REFUSAL_MESSAGE = FILTER_REFUSAL;
