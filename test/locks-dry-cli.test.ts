// End-to-end: replica locks (§6.1), dry runs, command-line and config errors, and
// the log file / screen output flags — through the real command line.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { explain, makeConf, quickSync, runOsync, type OsyncResult } from './support/osync.js';
import { readTree, replicaPair, rmTree, secondsAgo, writeTree } from './support/tree.js';

const ID = 'quicksync_task';
const T0 = secondsAgo(100_000);
const T1 = secondsAgo(5_000);

const roots: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  roots.forEach(rmTree);
});

interface Pair {
  root: string;
  a: string;
  b: string;
  state: string;
  lockA: string;
  lockB: string;
}

function pair(): Pair {
  const { root, a, b } = replicaPair('osync-ts-lock-');
  roots.push(root);
  return {
    root,
    a,
    b,
    state: path.join(a, '.osync_workdir', 'state'),
    lockA: path.join(a, '.osync_workdir', 'lock'),
    lockB: path.join(b, '.osync_workdir', 'lock'),
  };
}

const exists = (f: string) => fs.existsSync(f);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A live process that is not osync: its pid makes a lock "alive". */
function liveProcess(): number {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}

function writeLock(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** Every file below dir with its content, mode and mtime: a byte-exact snapshot
 *  (directories inside .osync_workdir without their mtime). */
function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (skip(r)) continue;
      const st = fs.lstatSync(p);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`;
      if (st.isDirectory()) {
        // The lock comes and goes (and -dry files appear): osync's own dirs' mtimes move.
        out[r] = r.startsWith('.osync_workdir') ? '<dir>' : `<dir> ${meta}`;
        walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(p)}`;
      else out[r] = `${fs.readFileSync(p).toString('base64')} ${meta}`;
    }
  };
  walk(dir, '');
  return out;
}

const logLines = (r: OsyncResult) => r.log.split('\n').filter(Boolean);

describe('locks', { concurrency: 2 }, () => {
  test('a stale lock (dead pid, other instance) is taken over with the NOTICE, run proceeds, lock removed at exit', async () => {
    const p = pair();
    assert.equal(pidAlive(99999), false, 'pid 99999 must not exist for this test');
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    writeLock(p.lockA, '99999@other\n');
    writeLock(p.lockB, '99999@other\n');
    const r = await quickSync(p.a, p.b);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.log, /TIME: \d+ - There is a local dead osync lock \[99999@other\] that is no longer running\. Resuming\./);
    assert.equal(readTree(p.b)['f'], 'f');
    assert.equal(exists(p.lockA), false);
    assert.equal(exists(p.lockB), false);
  });

  test('a bare pid in the lock (no @INSTANCE_ID, as an older osync or a hand wrote it): dead is stale, alive refuses', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    writeLock(p.lockA, '99999\n');
    writeLock(p.lockB, '99999');
    const r = await quickSync(p.a, p.b);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.log, /There is a local dead osync lock \[99999\] that is no longer running\. Resuming\./);
    assert.equal(readTree(p.b)['f'], 'f');
    assert.equal(exists(p.lockA), false);
    assert.equal(exists(p.lockB), false);
    const pid = liveProcess();
    writeLock(p.lockA, `${pid}\n`);
    const live = await quickSync(p.a, p.b);
    assert.equal(live.code, 1, explain(live));
    assert.match(live.log, new RegExp(`\\(CRITICAL\\):There is already a local instance \\[${pid}\\] of osync running for this replica\\. Cannot start\\.`));
    assert.equal(fs.readFileSync(p.lockA, 'utf8'), `${pid}\n`);
  });

  test('a live lock on the target: exit 1, CRITICAL, replicas unchanged, foreign lock kept, our initiator lock removed', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    writeTree(p.b, { g: 'g' }, { mtime: T0 });
    const pid = liveProcess();
    writeLock(p.lockB, `${pid}@x\n`);
    const beforeA = readTree(p.a);
    const beforeB = readTree(p.b);
    const r = await quickSync(p.a, p.b);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.log, new RegExp(`\\(CRITICAL\\):There is already a local instance \\[${pid}@x\\] of osync running for this replica\\. Cannot start\\.`));
    assert.match(r.stderr, /There is already a local instance/);
    assert.deepEqual(readTree(p.a), beforeA);
    assert.deepEqual(readTree(p.b), beforeB);
    assert.equal(fs.readFileSync(p.lockB, 'utf8'), `${pid}@x\n`, 'foreign lock untouched');
    assert.equal(exists(p.lockA), false, 'the lock this run wrote on the initiator is removed');
    assert.equal(exists(path.join(p.state, `initiator-tree-after-${ID}`)), false, 'no state written');
    assert.doesNotMatch(r.log, /Starting synchronization task/);
  });

  test('a live lock on the initiator, any instance id, refuses too', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    const pid = liveProcess();
    writeLock(p.lockA, `${pid}@${ID}\n`);
    const r = await quickSync(p.a, p.b);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.log, /\(CRITICAL\):There is already a local instance/);
    assert.deepEqual(readTree(p.b), {});
    assert.equal(fs.readFileSync(p.lockA, 'utf8'), `${pid}@${ID}\n`);
    assert.equal(exists(p.lockB), false);
  });

  test('garbage lock → CRITICAL Invalid pid, exit 1', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    writeLock(p.lockA, 'garbage\n');
    const r = await quickSync(p.a, p.b);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.log, /\(CRITICAL\):Invalid pid \[garbage\]/);
    assert.deepEqual(readTree(p.b), {});
    assert.equal(fs.readFileSync(p.lockA, 'utf8'), 'garbage\n');
  });

  test('--force-unlock overwrites a live lock and proceeds', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    const pid = liveProcess();
    writeLock(p.lockA, `${pid}@x\n`);
    writeLock(p.lockB, `garbage`);
    const r = await quickSync(p.a, p.b, ['--force-unlock']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(readTree(p.b)['f'], 'f');
    assert.equal(exists(p.lockA), false);
    assert.equal(exists(p.lockB), false);
  });

  test('two runs started at the same moment: exactly one syncs, the other exits 1 changing nothing; lock = <pid>@<ID>\\n', async () => {
    const p = pair();
    // A slow transfer (bandwidth limit) keeps the winner inside its locks for a while.
    writeTree(p.a, { big: Buffer.alloc(1_500_000, 7), small: 's' }, { mtime: T0 });
    const seen = new Set<string>();
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const f of [p.lockA, p.lockB]) {
          try {
            seen.add(fs.readFileSync(f, 'utf8'));
          } catch {
            /* not there */
          }
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const env = { BANDWIDTH: '1000' };
    const [r1, r2] = await Promise.all([quickSync(p.a, p.b, [], env), quickSync(p.a, p.b, [], env)]);
    polling = false;
    await poll;
    const codes = [r1.code, r2.code].sort();
    assert.deepEqual(codes, [0, 1], `${explain(r1)}\n=====\n${explain(r2)}`);
    const [win, lose] = r1.code === 0 ? [r1, r2] : [r2, r1];
    assert.match(lose.log, /\(CRITICAL\):There is already a local instance \[\d+@quicksync_task\]/);
    assert.doesNotMatch(lose.log, /Starting synchronization task|Updating .* replica/);
    assert.match(win.log, /Finished synchronization task/);
    assert.equal(readTree(p.b)['small'], 's');
    assert.equal(fs.statSync(path.join(p.b, 'big')).size, 1_500_000);
    assert.equal(exists(p.lockA), false);
    assert.equal(exists(p.lockB), false);
    // Every lock content ever seen was one of the two runs' "<pid>@<ID>\n".
    assert.ok(seen.size >= 1, 'the lock was observed while the winner ran');
    for (const s of seen) assert.match(s, new RegExp(`^(${r1.pid}|${r2.pid})@${ID}\\n$`), JSON.stringify(s));
    assert.ok(seen.has(`${win.pid}@${ID}\n`), `winner's lock seen: ${JSON.stringify([...seen])}`);
  });
});

describe('dry run', () => {
  test('--dry changes neither replica, writes only -dry state, leaves real state byte-identical, logs the plan', async () => {
    const p = pair();
    writeTree(p.a, { keep: 'k', del: 'd', mod: 'old', 'dir/x': 'x' }, { mtime: T0 });
    const r0 = await quickSync(p.a, p.b);
    assert.equal(r0.code, 0, explain(r0));
    writeTree(p.a, { mod: 'new', 'new-a': 'na' }, { mtime: T1 });
    writeTree(p.b, { 'new-b': 'nb' }, { mtime: T1 });
    fs.rmSync(path.join(p.b, 'del'));
    const isDry = (rel: string) => /-dry(\.meta)?$/.test(rel);
    const beforeA = snapshot(p.a);
    const beforeB = snapshot(p.b);
    const r = await quickSync(p.a, p.b, ['--dry']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(snapshot(p.a, isDry), beforeA, 'initiator (and its real state) byte-identical');
    assert.deepEqual(snapshot(p.b), beforeB, 'target byte-identical');
    const dryFiles = fs.readdirSync(p.state).filter((n) => n.includes('-dry'));
    assert.ok(dryFiles.includes(`initiator-tree-current-${ID}-dry`), dryFiles.join(', '));
    assert.ok(dryFiles.includes(`initiator-last-action-${ID}-dry`), dryFiles.join(', '));
    assert.ok(dryFiles.every((n) => /-dry(\.meta)?$/.test(n)), dryFiles.join(', '));
    // The dry deleted list previews the real run: del vanished from the target.
    assert.equal(fs.readFileSync(path.join(p.state, `target-deleted-list-${ID}-dry`), 'utf8'), 'del\n');
    for (const name of ['mod', 'new-a', 'new-b', 'del']) assert.match(r.log, new RegExp(`\\[${name}\\]`), `plan mentions ${name}`);
    assert.match(r.log, /DRY RUN/);

    // The real run afterwards does exactly what the dry one announced.
    const r2 = await quickSync(p.a, p.b);
    assert.equal(r2.code, 0, explain(r2));
    assert.deepEqual(readTree(p.a), readTree(p.b));
    assert.equal(exists(path.join(p.a, 'del')), false);
    assert.equal(readTree(p.b)['mod'], 'new');
  });
});

describe('command line and config errors', { concurrency: 2 }, () => {
  function untouched(p: Pair): void {
    assert.deepEqual(fs.readdirSync(p.a), ['f'], 'initiator untouched');
    assert.deepEqual(fs.readdirSync(p.b), [], 'target untouched');
  }
  function setup(): Pair {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    return p;
  }

  test('unknown flag → exit 1 with Unknown option', async () => {
    const p = setup();
    const r = await quickSync(p.a, p.b, ['--bogus-flag']);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /Unknown option '--bogus-flag'/);
    untouched(p);
  });

  test('missing conf file → exit 1', async () => {
    const p = setup();
    const r = await runOsync([path.join(p.root, 'nope.conf')]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /Cannot load configuration file/);
    untouched(p);
  });

  test('.txt conf file → exit 1', async () => {
    const p = setup();
    const conf = makeConf(p.root, { INSTANCE_ID: 't', INITIATOR_SYNC_DIR: p.a, TARGET_SYNC_DIR: p.b }, 'sync.txt');
    const r = await runOsync([conf]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /Wrong configuration file supplied/);
    untouched(p);
  });

  test('SYNC_TYPE=sideways → exit 1 naming the value', async () => {
    const p = setup();
    const conf = makeConf(p.root, { INSTANCE_ID: 't', INITIATOR_SYNC_DIR: p.a, TARGET_SYNC_DIR: p.b, SYNC_TYPE: 'sideways', LOGFILE: path.join(p.root, 'l.log') });
    const r = await runOsync([conf]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /sync type.*\[sideways\]/i);
    untouched(p);
    const q = pair();
    writeTree(q.a, { f: 'f' }, { mtime: T0 });
    const r2 = await quickSync(q.a, q.b, ['--sync-type=sideways']);
    assert.equal(r2.code, 1, explain(r2));
    assert.match(r2.stderr, /\[sideways\]/);
    untouched(q);
  });

  test('missing INSTANCE_ID in a conf file → exit 1', async () => {
    const p = setup();
    const conf = makeConf(p.root, { INITIATOR_SYNC_DIR: p.a, TARGET_SYNC_DIR: p.b, LOGFILE: path.join(p.root, 'l.log') });
    const r = await runOsync([conf]);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /INSTANCE_ID/);
    untouched(p);
  });

  test('--help, -h and no arguments → usage, exit 0; --version / -v → exit 0 with a version', async () => {
    for (const args of [['--help'], ['-h'], []]) {
      const r = await runOsync(args);
      assert.equal(r.code, 0, explain(r));
      assert.match(r.stdout, /Usage: /);
      assert.match(r.stdout, /--initiator=/);
      assert.equal(r.stderr, '');
    }
    for (const args of [['--version'], ['-v']]) {
      const r = await runOsync(args);
      assert.equal(r.code, 0, explain(r));
      assert.match(r.stdout, /\d+\.\d+\.\d+/);
    }
  });
});

describe('log file and output flags', { concurrency: 2 }, () => {
  test('LOGFILE is honoured; lines are "TIME: n - " + (WARN):/(ERROR):/(CRITICAL): tags', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    const logFile = path.join(p.root, 'my.log');
    // A free-space warning (exit 2) then a refused lock (exit 1) give all three tags.
    const r = await quickSync(p.a, p.b, [], { LOGFILE: logFile, MINIMUM_SPACE: '999999999999' });
    assert.equal(r.logFile, logFile);
    assert.ok(fs.existsSync(logFile));
    assert.equal(r.code, 2, explain(r));
    assert.match(r.log, /^TIME: \d+ - \(WARN\):There is not enough free space on local replica \[/m);
    assert.equal((fs.statSync(logFile).mode & 0o777).toString(8), '600');
    const pid = liveProcess();
    writeLock(p.lockA, `${pid}@x\n`);
    const r2 = await quickSync(p.a, p.b, [], { LOGFILE: logFile });
    assert.equal(r2.code, 1);
    const log = fs.readFileSync(logFile, 'utf8');
    assert.ok(log.startsWith(r.log), 'appended, not truncated');
    assert.match(log, /^TIME: \d+ - \(CRITICAL\):There is already a local instance/m);
    assert.match(log, /^TIME: \d+ - \(ERROR\):osync finished with errors\.$/m);
    assert.match(log, /^TIME: \d+ - Starting synchronization task\.$/m, 'NOTICE lines have no tag');
    for (const l of log.split('\n').filter(Boolean)) {
      assert.match(l, /^(TIME: \d+ - (\((WARN|ERROR|CRITICAL|VERBOSE)\):)?|(Attributes|File|UPDATE|DELETE|Initiator|Target))/, `line format: ${l}`);
    }
  });

  test('--no-prefix removes the prefix in the log file and on screen', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    const r = await quickSync(p.a, p.b, ['--no-prefix']);
    assert.equal(r.code, 0, explain(r));
    assert.ok(logLines(r).length > 3);
    for (const l of logLines(r)) assert.doesNotMatch(l, /^TIME: /, l);
    assert.match(r.log, /^Starting synchronization task\.$/m);
    assert.match(r.log, /^osync finished\.$/m);
    assert.doesNotMatch(r.stdout, /TIME: /);
  });

  test('--errors-only drops NOTICE lines from the log file (and screen), keeps warnings and ALWAYS lines', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    const r = await quickSync(p.a, p.b, ['--errors-only'], { MINIMUM_SPACE: '999999999999' });
    assert.equal(r.code, 2, explain(r));
    assert.equal(readTree(p.b)['f'], 'f', 'the sync still ran');
    assert.doesNotMatch(r.log, /Starting synchronization task|Creating initiator replica file list|Updating target replica/);
    assert.match(r.log, /\(WARN\):There is not enough free space/);
    assert.match(r.log, /script begin\./);
    assert.match(r.log, /osync finished with warnings\./);
    assert.doesNotMatch(r.stdout, /Starting synchronization task/);
  });

  test('--stats adds rsync\'s transfer statistics to the --verbose output, as osync', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f', g: 'g' }, { mtime: T0 });
    const r = await quickSync(p.a, p.b, ['--stats', '--verbose']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.log, /Number of files: \d+/);
    assert.match(r.log, /Total transferred file size: 2 bytes/);
    writeTree(p.a, { h: 'h' }, { mtime: T0 });
    const plain = await quickSync(p.a, p.b, ['--verbose']);
    assert.match(plain.log, /Updating target replica succeded\./);
    assert.doesNotMatch(plain.log, /Number of files:/);
  });

  test('--silent prints nothing on stdout/stderr, even with warnings and errors; the log file is still written', async () => {
    const p = pair();
    writeTree(p.a, { f: 'f' }, { mtime: T0 });
    const r = await quickSync(p.a, p.b, ['--silent', '--summary'], { MINIMUM_SPACE: '999999999999' });
    assert.equal(r.code, 2, explain(r));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.match(r.log, /Starting synchronization task\./);
    assert.match(r.log, /\(WARN\):/);
    writeLock(p.lockB, 'garbage\n');
    const r2 = await quickSync(p.a, p.b, ['--silent']);
    assert.equal(r2.code, 1);
    assert.equal(r2.stdout, '');
    assert.equal(r2.stderr, '');
    assert.match(r2.log, /\(CRITICAL\):Invalid pid/);
  });
});
