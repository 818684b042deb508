// Execution hooks (osync §8), through the real command line: real `sh`, real rsync,
// and for the remote hooks a real sshd on loopback.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keyPath, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { scratchDir } from './support/tree.js';
import { binArgv } from './support/osync.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** tsx's loader by URL, so the child may run in any cwd. */

interface Result {
  code: number | null;
  log: string;
  stdout: string;
  stderr: string;
}

function tmp(): string {
  return scratchDir('osync-hooks-');
}

/** Runs osync-ts on a conf file written from `keys`; a fresh LOGFILE under dir. */
function runConf(dir: string, keys: Record<string, string>, args: string[] = []): Promise<Result> {
  const logFile = path.join(dir, `run-${Math.random().toString(36).slice(2)}.log`);
  const conf = path.join(dir, 'task.conf');
  const lines = ['CONFIG_FILE_REVISION=1.3.0', `LOGFILE=${logFile}`, ...Object.entries(keys).map(([k, v]) => `${k}=${singleQuoted(v)}`)];
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = binArgv();
    const child = spawn(cmd, [...pre, conf, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      resolve({ code, log, stdout, stderr });
    });
  });
}

/** Single quotes: the conf reader keeps `$VAR` literally, so the hook's shell expands it. */
function singleQuoted(v: string): string {
  assert.ok(!v.includes("'"), `test value must not contain a single quote: ${v}`);
  return `'${v}'`;
}

function replicas(dir: string): { a: string; b: string } {
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  fs.writeFileSync(path.join(a, 'file.txt'), 'from a\n');
  return { a, b };
}

function base(dir: string, a: string, b: string, extra: Record<string, string> = {}): Record<string, string> {
  return { INSTANCE_ID: 'hooks', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b, SOFT_DELETE: 'false', CONFLICT_BACKUP: 'false', ...extra };
}

function lineIndex(log: string, text: string): number {
  const i = log.split('\n').findIndex((l) => l.includes(text));
  assert.notEqual(i, -1, `log has no line with [${text}]:\n${log}`);
  return i;
}

function alive(pattern: string): string {
  return spawnSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).stdout.trim();
}

describe('local hooks', () => {
  test('before and after run in order around the sync, with the documented environment', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const out = path.join(dir, 'hook.out');
    const r = await runConf(
      dir,
      base(dir, a, b, {
        // Single quotes in the conf keep $VARS for the hook's shell.
        LOCAL_RUN_BEFORE_CMD: `echo "before id=$INSTANCE_ID i=$INITIATOR_SYNC_DIR t=$TARGET_SYNC_DIR lc=$LC_ALL pwd=$(pwd) synced=$(ls ${b})" >> ${out}`,
        LOCAL_RUN_AFTER_CMD: `echo "after synced=$(ls ${b} | grep -v osync)" >> ${out}; echo visible-output`,
      }),
      ['--verbose'],
    );
    assert.equal(r.code, 0, r.log);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0], `before id=hooks i=${a}/ t=${b}/ lc=C pwd=${dir} synced=`);
    assert.equal(lines[1], 'after synced=file.txt');
    const beforeRun = lineIndex(r.log, 'Running command [echo "before id=');
    const sync = lineIndex(r.log, 'Starting synchronization task.');
    const afterRun = lineIndex(r.log, 'Running command [echo "after synced=');
    const fin = lineIndex(r.log, 'osync finished.');
    assert.ok(beforeRun < sync && sync < afterRun && afterRun < fin, r.log);
    assert.match(r.log, /on local host\.\n.*Command succeded\./);
    // --verbose shows the output of a successful command.
    assert.match(r.log, /Truncated output:\nvisible-output/);
  });

  test('without --verbose a successful command output is not logged; a failing one is, with ERROR', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const r = await runConf(dir, base(dir, a, b, { LOCAL_RUN_BEFORE_CMD: 'echo quiet-output', LOCAL_RUN_AFTER_CMD: 'echo loud-output; exit 4' }));
    assert.equal(r.code, 0, r.log); // after-hook failure does not change the exit code (osync)
    assert.doesNotMatch(r.log, /Truncated output:\nquiet-output/);
    assert.doesNotMatch(r.log, /^quiet-output$/m);
    assert.match(r.log, /\(ERROR\):Command failed\. Exit code \[4\]\.\n.*Truncated output:\nloud-output/);
    // The final line was decided before the after hook ran.
    assert.match(r.log, /osync finished\.\n?$/);
  });

  test('STOP_ON_CMD_ERROR=true: failed before hook stops the run, nothing synced, exit 1', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const after = path.join(dir, 'after-ran');
    const r = await runConf(dir, base(dir, a, b, { LOCAL_RUN_BEFORE_CMD: 'exit 3', LOCAL_RUN_AFTER_CMD: `touch ${after}`, STOP_ON_CMD_ERROR: 'true' }));
    assert.equal(r.code, 1, r.log);
    assert.match(r.log, /\(ERROR\):Command failed\./);
    assert.match(r.log, /\(CRITICAL\):Stopping on command execution error\./);
    assert.doesNotMatch(r.log, /Starting synchronization task/);
    assert.equal(fs.existsSync(path.join(b, 'file.txt')), false);
    assert.equal(fs.existsSync(after), false, 'after hook must not run after a failed run');
    assert.match(r.log, /osync finished with errors\./);
  });

  test('STOP_ON_CMD_ERROR=false: sync runs but exit is 1; RUN_AFTER_CMD_ON_ERROR=true runs the after hook', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const after = path.join(dir, 'after-ran');
    const r = await runConf(
      dir,
      base(dir, a, b, { LOCAL_RUN_BEFORE_CMD: 'false', LOCAL_RUN_AFTER_CMD: `touch ${after}`, STOP_ON_CMD_ERROR: 'false', RUN_AFTER_CMD_ON_ERROR: 'true' }),
    );
    assert.equal(r.code, 1, r.log);
    assert.equal(fs.readFileSync(path.join(b, 'file.txt'), 'utf8'), 'from a\n');
    assert.ok(fs.existsSync(after), r.log);
    assert.match(r.log, /osync finished with errors\./);
  });

  test('MAX_EXEC_TIME_PER_CMD_BEFORE kills the hook and its children', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const tag = `3${Math.floor(Math.random() * 1e6)}`;
    const t0 = Date.now();
    const r = await runConf(
      dir,
      base(dir, a, b, { LOCAL_RUN_BEFORE_CMD: `sleep 40.${tag} & sleep 41.${tag}; echo never`, MAX_EXEC_TIME_PER_CMD_BEFORE: '1', STOP_ON_CMD_ERROR: 'true' }),
    );
    assert.ok(Date.now() - t0 < 20_000, 'the hook was not stopped in time');
    assert.equal(r.code, 1, r.log);
    assert.match(r.log, /\(ERROR\):Max hard execution time \[1\] exceeded for task \[RunLocalCommand\]\. Stopping task execution\./);
    assert.match(r.log, /\(ERROR\):Command failed\. Killed after its time limit\./);
    assert.doesNotMatch(r.log, /^never$/m);
    assert.equal(alive(`sleep 4[01].${tag}`), '', 'hook children survived');
  });

  test('--dry does not run hooks', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const marker = path.join(dir, 'ran');
    const r = await runConf(dir, base(dir, a, b, { LOCAL_RUN_BEFORE_CMD: `touch ${marker}`, LOCAL_RUN_AFTER_CMD: `touch ${marker}` }), ['--dry']);
    assert.equal(r.code, 0, r.log);
    assert.equal(fs.existsSync(marker), false);
    assert.match(r.log, new RegExp(`Dryrun: Local command \\[touch ${marker}\\] not run\\.`));
  });

  test('remote hook with a local target: WARN and ignored (exit 2)', async () => {
    const dir = tmp();
    const { a, b } = replicas(dir);
    const marker = path.join(dir, 'ran');
    const r = await runConf(dir, base(dir, a, b, { REMOTE_RUN_BEFORE_CMD: `touch ${marker}` }));
    assert.equal(r.code, 2, r.log);
    assert.match(r.log, new RegExp(`\\(WARN\\):Ignoring remote command \\[touch ${marker}\\] because remote host is not configured\\.`));
    assert.equal(fs.existsSync(marker), false);
  });
});

describe('remote hooks (real sshd)', { skip: process.getuid?.() !== 0 || !fs.existsSync('/usr/sbin/sshd') ? 'needs root and sshd' : false }, () => {
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });

  function remoteConf(dir: string, a: string, b: string, extra: Record<string, string>): Record<string, string> {
    return base(dir, a, sshdUri(sshd, sshd.user, b), {
      SSH_RSA_PRIVATE_KEY: keyPath(sshd, 'user'),
      SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '),
      _REMOTE_TOKEN: sshd.token,
      ...extra,
    });
  }

  test('REMOTE_RUN_BEFORE/AFTER_CMD run on the target host; SUDO_EXEC=true runs them under sudo', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const { a, b } = replicas(dir);
    fs.chownSync(b, Number(spawnSync('id', ['-u', sshd.user], { encoding: 'utf8' }).stdout.trim()), 0);
    const out = path.join(dir, 'remote.out');
    fs.writeFileSync(out, '');
    fs.chmodSync(out, 0o666);
    const cmd = (w: string) => `echo "${w} user=$(id -un) id=$INSTANCE_ID t=$TARGET_SYNC_DIR" >> ${out}; echo second=$INSTANCE_ID >> ${out}`;
    let r = await runConf(dir, remoteConf(dir, a, b, { REMOTE_RUN_BEFORE_CMD: cmd('before'), REMOTE_RUN_AFTER_CMD: cmd('after'), SUDO_EXEC: 'false' }));
    assert.equal(r.code, 0, r.log + r.stderr);
    assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n'), [
      `before user=${sshd.user} id=hooks t=${b}/`,
      'second=hooks',
      `after user=${sshd.user} id=hooks t=${b}/`,
      'second=hooks',
    ]);
    assert.match(r.log, /Running command \[echo "before.*\] on remote host \[127\.0\.0\.1\]\./);

    fs.writeFileSync(out, '');
    r = await runConf(dir, remoteConf(dir, a, b, { REMOTE_RUN_BEFORE_CMD: cmd('before'), SUDO_EXEC: 'true' }));
    assert.equal(r.code, 0, r.log + r.stderr);
    assert.equal(fs.readFileSync(out, 'utf8').split('\n')[0], `before user=root id=hooks t=${b}/`);
    assert.match(r.log, /on remote host \[127\.0\.0\.1\] with sudo\./);
  });

  test('HARD_MAX_EXEC_TIME counts a remote before hook: stopped at the limit, nothing synced, exit 1; huge hook limits work', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const { a, b } = replicas(dir);
    fs.chownSync(b, Number(spawnSync('id', ['-u', sshd.user], { encoding: 'utf8' }).stdout.trim()), 0);
    const t0 = Date.now();
    const r = await runConf(dir, remoteConf(dir, a, b, { HARD_MAX_EXEC_TIME: '3', REMOTE_RUN_BEFORE_CMD: 'sleep 6' }));
    assert.equal(r.code, 1, r.log);
    assert.ok(Date.now() - t0 < 5800, `not stopped at the limit (${Date.now() - t0} ms)`);
    assert.match(r.log, /\(ERROR\):Max hard execution time \[3\] exceeded for task \[Sync\]/);
    assert.equal(fs.existsSync(path.join(b, 'file.txt')), false);
    const big = await runConf(dir, remoteConf(dir, a, b, { MAX_EXEC_TIME_PER_CMD_BEFORE: '2147484', REMOTE_RUN_BEFORE_CMD: 'sleep 1' }));
    assert.equal(big.code, 0, big.log + big.stderr);
    assert.match(big.log, /Command succeded\./);
    assert.equal(fs.existsSync(path.join(b, 'file.txt')), true);
  });

  test('a failing remote before hook with STOP_ON_CMD_ERROR stops the run', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o755);
    const { a, b } = replicas(dir);
    const r = await runConf(dir, remoteConf(dir, a, b, { REMOTE_RUN_BEFORE_CMD: 'echo remote-says-no >&2; exit 5', STOP_ON_CMD_ERROR: 'true' }));
    assert.equal(r.code, 1, r.log);
    assert.match(r.log, /\(ERROR\):Command failed\. Exit code \[5\]\.\n.*Truncated output:\nremote-says-no/);
    assert.match(r.log, /\(CRITICAL\):Stopping on command execution error\./);
    assert.equal(fs.existsSync(path.join(b, 'file.txt')), false);
  });
});
