// osync-batch (scripts/osync-batch.ts) with real confs and real runs: rounds, retries,
// the log, the exit code, flags passed on, and its own errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { binArgv, makeConf, REPO_ROOT } from './support/osync.js';
import { scratchDir, writeTree } from './support/tree.js';


function batch(args: string[], cwd = REPO_ROOT) {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TMPDIR: process.env.TMPDIR ?? '/tmp' };
  const [cmd, ...pre] = binArgv('osync-batch');
  const r = spawnSync(cmd, [...pre, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A directory with an ok, a warning and a failing conf (and a file that is not a conf). */
function confs(which: ('ok' | 'warning' | 'failing')[], extra: Record<string, string> = {}) {
  const root = scratchDir('osync-ts-batch-');
  const dir = path.join(root, 'confs');
  const runsLog = path.join(root, 'runs.log');
  for (const kind of which) {
    const a = path.join(root, `${kind}-a`);
    const b = path.join(root, `${kind}-b`);
    if (kind !== 'failing') {
      writeTree(a, { [`from-${kind}`]: kind });
      fs.mkdirSync(b);
    }
    const file = makeConf(dir, { INSTANCE_ID: kind, INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b, CREATE_DIRS: 'false', LOGFILE: runsLog, ...extra }, `${kind}.conf`);
    // The warning: a conf without CONFIG_FILE_REVISION (osync warns and runs; exit 2).
    if (kind === 'warning') fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^CONFIG_FILE_REVISION=.*\n/m, ''));
  }
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a conf');
  return { root, dir, runsLog, batchLog: path.join(root, 'batch.log') };
}

const runsOf = (log: string, id: string) => (log.match(new RegExp(`Sync task \\[${id}\\] launched`, 'g')) ?? []).length;

test('ok, warning and failing confs: the failing one is run again up to --max-runs, exit code 1', () => {
  const c = confs(['ok', 'warning', 'failing']);
  const r = batch([`--path=${c.dir}`, '--max-runs=2', `--log-file=${c.batchLog}`, '--no-maxtime']);
  assert.equal(r.code, 1, r.stderr);
  const log = fs.readFileSync(c.batchLog, 'utf8');
  assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d osync batch run\n/);
  assert.match(log, /Sequential run n°1 of osync instances for:\nfailing\.conf\nok\.conf\nwarning\.conf\n/);
  assert.match(log, /\(ERROR\):Instance failing\.conf failed with exit code \[1\]\.\nInstance ok\.conf succeed\.\n\(WARN\):Instance warning\.conf finished with warnings\.\n/);
  assert.match(log, /Sequential run n°2 of osync instances for:\nfailing\.conf\n\(ERROR\):Instance failing\.conf failed with exit code \[1\]\.\n$/);
  assert.doesNotMatch(log, /n°3/);
  const runs = fs.readFileSync(c.runsLog, 'utf8');
  assert.deepEqual([runsOf(runs, 'ok'), runsOf(runs, 'warning'), runsOf(runs, 'failing')], [1, 1, 2]);
  assert.equal((runs.match(/does not exist or is not writable and CREATE_DIRS is not allowed/g) ?? []).length, 2);
  // The runs are silent (osync-batch passes --silent); the batch itself shows its lines.
  assert.doesNotMatch(r.stdout, /TIME:/);
  assert.match(r.stderr, /Instance failing\.conf failed/);
  assert.ok(fs.existsSync(path.join(c.root, 'ok-b', 'from-ok')));
});

test('warnings only: exit code 2; all fine: 0; flags reach osync', () => {
  const c = confs(['ok', 'warning']);
  const r = batch([`--path=${c.dir}`, `--log-file=${c.batchLog}`, '--dry']);
  assert.equal(r.code, 2, r.stderr);
  // --dry went to both runs: nothing was copied.
  assert.equal(fs.existsSync(path.join(c.root, 'ok-b', 'from-ok')), false);
  assert.match(fs.readFileSync(c.runsLog, 'utf8'), /DRY RUN/);
  const ok = confs(['ok']);
  const r2 = batch([`--path=${ok.dir}`, `--log-file=${ok.batchLog}`]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(fs.readFileSync(ok.batchLog, 'utf8'), /Instance ok\.conf succeed\.\n$/);
});

test('--max-exec-time: no new round once it has passed', () => {
  // The failing run takes a second (a before hook), longer than the limit.
  const c = confs(['failing'], { LOCAL_RUN_BEFORE_CMD: 'sleep 1.2' });
  const r = batch([`--path=${c.dir}`, '--max-exec-time=1', `--log-file=${c.batchLog}`]);
  assert.equal(r.code, 1, r.stderr);
  const log = fs.readFileSync(c.batchLog, 'utf8');
  assert.match(log, /n°1/);
  assert.doesNotMatch(log, /n°2/);
  assert.match(log, /Max execution time \[1\] reached: no new round \(still failing: failing\.conf\)\./);
});

test('usage, a missing --path, a path that does not exist, a bad number', () => {
  const u = batch([]);
  assert.equal(u.code, 0);
  assert.match(u.stdout, /^Usage: osync-batch --path=/m);
  assert.equal(batch(['--help']).code, 0);
  const root = scratchDir('osync-ts-batch-');
  const logFile = path.join(root, 'batch.log');
  const r = batch(['--max-runs=2', `--log-file=${logFile}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No conf file path given: osync-batch needs --path=DIR\./);
  const r2 = batch([`--path=${root}/nope`, `--log-file=${logFile}`]);
  assert.equal(r2.code, 1);
  assert.match(fs.readFileSync(logFile, 'utf8'), /\(CRITICAL\):Cannot find conf file path \[.*\/nope\]\./);
  const r3 = batch([`--path=${root}`, '--max-runs=two', `--log-file=${logFile}`]);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /Bogus --max-runs value \[two\]/);
  // Without --log-file and without a writable /var/log it would be ./osync-batch.log: the
  // default is not exercised here (it would write into this host's /var/log).
});
