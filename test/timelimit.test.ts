// Time control (osync §7) and stop signals (§6.3), through the real command line
// with a deliberately slow rsync (BANDWIDTH in KiB/s): exit codes, log lines,
// locks, leftover processes, and that the next run converges.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scratchDir } from './support/tree.js';
import { binArgv } from './support/osync.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Result {
  code: number | null;
  log: string;
  stderr: string;
}

function runConf(dir: string, keys: Record<string, string>, args: string[] = [], onSpawn?: (c: ChildProcess, logFile: string) => void): Promise<Result> {
  const logFile = path.join(dir, `run-${randomBytes(4).toString('hex')}.log`);
  const conf = path.join(dir, 'task.conf');
  const lines = ['CONFIG_FILE_REVISION=1.3.0', `LOGFILE=${logFile}`, ...Object.entries(keys).map(([k, v]) => `${k}="${v}"`)];
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = binArgv();
    const child = spawn(cmd, [...pre, conf, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, log: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '', stderr }));
    onSpawn?.(child, logFile);
  });
}

/** Initiator with a 200 KB file (20 s at BANDWIDTH=10) and a small one; empty target. */
function slowSetup(): { dir: string; a: string; b: string } {
  const dir = scratchDir('osync-time-');
  const a = path.join(dir, 'init-' + randomBytes(4).toString('hex'));
  const b = path.join(dir, 'targ-' + randomBytes(4).toString('hex'));
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  fs.writeFileSync(path.join(a, 'big.bin'), randomBytes(200_000));
  fs.writeFileSync(path.join(a, 'small.txt'), 'small\n');
  fs.writeFileSync(path.join(b, 'from-target.txt'), 'target\n');
  return { dir, a, b };
}

function keys(a: string, b: string, extra: Record<string, string>): Record<string, string> {
  return { INSTANCE_ID: 'timed', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b, KEEP_LOGGING: '0', SOFT_MAX_EXEC_TIME: '0', HARD_MAX_EXEC_TIME: '0', ...extra };
}

/** path → content of every file under root, .osync_workdir excluded. */
function readTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (p === '.osync_workdir') continue;
      if (e.isDirectory()) walk(p);
      else out.set(p, fs.readFileSync(path.join(root, p)).toString('hex'));
    }
  };
  walk('');
  return out;
}

function rsyncProcesses(unique: string): string {
  return spawnSync('pgrep', ['-af', `rsync.*${unique}`], { encoding: 'utf8' }).stdout.trim();
}

function locks(a: string, b: string): string[] {
  return [a, b].map((r) => path.join(r, '.osync_workdir', 'lock')).filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8') !== '');
}

function count(log: string, re: RegExp): number {
  return log.split('\n').filter((l) => re.test(l)).length;
}

async function waitForLog(logFile: string, text: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`[${text}] never appeared in ${logFile}`);
}

async function convergesAfter(dir: string, a: string, b: string): Promise<void> {
  const r = await runConf(dir, keys(a, b, {}));
  assert.equal(r.code, 0, r.log);
  assert.match(r.log, /Trying to resume aborted execution/);
  const ta = readTree(a);
  assert.deepEqual(readTree(b), ta);
  assert.deepEqual([...ta.keys()].sort(), ['big.bin', 'from-target.txt', 'small.txt']);
}

describe('time limits', () => {
  test('SOFT_MAX_EXEC_TIME: one WARN, the sync completes, exit 2; KEEP_LOGGING lines while it runs', async () => {
    const { dir, a, b } = slowSetup();
    const r = await runConf(dir, keys(a, b, { BANDWIDTH: '50', SOFT_MAX_EXEC_TIME: '1', KEEP_LOGGING: '1' }));
    assert.equal(r.code, 2, r.log);
    assert.equal(count(r.log, /\(WARN\):Max soft execution time \[1\] exceeded for task \[Sync\] with pids \[\d[\d,]*\]\.$/), 1, r.log);
    assert.ok(count(r.log, /^TIME: \d+ - Current tasks ID=Sync still running with pids \[\d/) >= 2, r.log);
    assert.match(r.log, /\(WARN\):osync finished with warnings\.\n$/);
    assert.deepEqual(readTree(b), readTree(a));
  });

  test('HARD_MAX_EXEC_TIME: ERROR, rsync killed, locks released, exit 1; the next run resumes and converges', async () => {
    const { dir, a, b } = slowSetup();
    const t0 = Date.now();
    const r = await runConf(dir, keys(a, b, { BANDWIDTH: '10', HARD_MAX_EXEC_TIME: '2' }));
    assert.ok(Date.now() - t0 < 15_000, `the run was not stopped in time (${Date.now() - t0} ms)`);
    assert.equal(r.code, 1, r.log);
    assert.match(r.log, /\(ERROR\):Max hard execution time \[2\] exceeded for task \[Sync\] with pids \[\d[\d,]*\]\. Stopping task execution\./);
    assert.match(r.log, /\(ERROR\):osync finished with errors\.\n$/);
    assert.deepEqual(locks(a, b), []);
    assert.equal(rsyncProcesses(path.basename(a)), '');
    const marker = fs.readFileSync(path.join(a, '.osync_workdir', 'state', 'initiator-last-action-timed'), 'utf8').trim();
    assert.notEqual(marker, 'synced');
    assert.notDeepEqual(readTree(b), readTree(a));
    await convergesAfter(dir, a, b);
  });

  test('HARD_MAX_EXEC_TIME counts the before hook: a 6 s hook under a 3 s limit is stopped, nothing synced, exit 1', async () => {
    const { dir, a, b } = slowSetup();
    const tag = `6.${randomBytes(3).readUIntBE(0, 3)}`;
    const t0 = Date.now();
    const r = await runConf(dir, keys(a, b, { HARD_MAX_EXEC_TIME: '3', LOCAL_RUN_BEFORE_CMD: `sleep ${tag}` }));
    assert.equal(r.code, 1, r.log);
    assert.ok(Date.now() - t0 < 5800, `the hook was not stopped at the limit (${Date.now() - t0} ms)`);
    assert.match(r.log, /\(ERROR\):Max hard execution time \[3\] exceeded for task \[Sync\] with pids \[\d[\d,]*\]\. Stopping task execution\./);
    assert.match(r.log, /\(ERROR\):Command failed\./);
    assert.doesNotMatch(r.log, /Starting synchronization task/);
    assert.equal(spawnSync('pgrep', ['-f', `sleep ${tag}`]).status, 1, 'hook survived');
    assert.deepEqual([...readTree(b).keys()], ['from-target.txt']);
    assert.deepEqual(locks(a, b), []);
  });

  test('SOFT_MAX_EXEC_TIME counts the before hook: one WARN, the sync runs, exit 2', async () => {
    const { dir, a, b } = slowSetup();
    const r = await runConf(dir, keys(a, b, { SOFT_MAX_EXEC_TIME: '1', LOCAL_RUN_BEFORE_CMD: 'sleep 2.5' }));
    assert.equal(r.code, 2, r.log);
    assert.equal(count(r.log, /\(WARN\):Max soft execution time \[1\] exceeded for task \[Sync\]/), 1, r.log);
    assert.deepEqual(readTree(b), readTree(a));
  });

  test('hook limits of 2147484 s (~24.9 days) and more are accepted: the hook is not killed at once', async () => {
    for (const limit of ['2147484', '99999999999']) {
      const { dir, a, b } = slowSetup();
      const r = await runConf(dir, keys(a, b, { MAX_EXEC_TIME_PER_CMD_BEFORE: limit, MAX_EXEC_TIME_PER_CMD_AFTER: limit, LOCAL_RUN_BEFORE_CMD: 'sleep 1', LOCAL_RUN_AFTER_CMD: 'sleep 1' }));
      assert.equal(r.code, 0, r.log + r.stderr);
      assert.equal(count(r.log, /Command succeded\./), 2, r.log);
      assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
      assert.deepEqual(readTree(b), readTree(a));
    }
  });

  test('--no-maxtime disables both limits', async () => {
    const { dir, a, b } = slowSetup();
    const r = await runConf(dir, keys(a, b, { BANDWIDTH: '100', SOFT_MAX_EXEC_TIME: '1', HARD_MAX_EXEC_TIME: '1' }), ['--no-maxtime']);
    assert.equal(r.code, 0, r.log);
    assert.doesNotMatch(r.log, /Max (soft|hard) execution time/);
    assert.deepEqual(readTree(b), readTree(a));
  });
});

describe('stop signals', () => {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
    test(`one ${sig} during a slow transfer: WARN, children killed, locks released, exit 2; next run converges`, async () => {
      const { dir, a, b } = slowSetup();
      let sent = 0;
      const r = await runConf(dir, keys(a, b, { BANDWIDTH: '10' }), [], (child, logFile) => {
        void waitForLog(logFile, 'Updating target replica.').then(
          () =>
            setTimeout(() => {
              sent = Date.now();
              child.kill(sig);
            }, 700),
          () => child.kill('SIGKILL'),
        );
      });
      assert.ok(sent > 0, 'signal never sent');
      assert.ok(Date.now() - sent < 10_000, 'the run did not stop promptly after one signal');
      assert.equal(r.code, 2, r.log);
      assert.match(r.log, new RegExp(`\\(WARN\\): /!\\\\ WARNING: ${sig} received\\. Exiting osync-ts\\. Please wait while replicas get unlocked\\.\\.\\.`));
      assert.match(r.log, /\(WARN\):osync finished with warnings\.\n$/);
      assert.deepEqual(locks(a, b), []);
      assert.equal(rsyncProcesses(path.basename(a)), '', 'orphaned rsync');
      await convergesAfter(dir, a, b);
    });
  }

  test('a signal while the before hook runs kills the hook and skips the sync', async () => {
    const { dir, a, b } = slowSetup();
    const tag = `7${randomBytes(3).readUIntBE(0, 3)}`;
    const r = await runConf(dir, keys(a, b, { LOCAL_RUN_BEFORE_CMD: `sleep 50.${tag}` }), [], (child, logFile) => {
      void waitForLog(logFile, 'on local host.').then(
        () => setTimeout(() => child.kill('SIGTERM'), 500),
        () => child.kill('SIGKILL'),
      );
    });
    assert.equal(r.code, 2, r.log);
    assert.doesNotMatch(r.log, /Starting synchronization task/);
    assert.equal(spawnSync('pgrep', ['-f', `sleep 50.${tag}`]).status, 1, 'hook survived');
    assert.equal(fs.existsSync(path.join(b, 'big.bin')), false);
  });
});
