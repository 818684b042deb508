// Monitor mode end to end, with real inotify and rsync (local replicas; the remote target
// is in monitor-remote.test.ts): `osync <conf> --on-changes` syncs at start, after changes
// on either replica (MIN_WAIT later), after changes made during a sync, after a target
// helper's push-file line; not after changes the sync does not look at; and one SIGTERM
// stops it mid-sync with no lock and no process left behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { explain, makeConf, runOsync } from './support/osync.js';
import { sleep, startMonitor, waitUntil, type Monitor } from './support/monitor.js';
import { readTree, scratchDir, writeTree } from './support/tree.js';

const MIN_WAIT = 1;
const monitors: Monitor[] = [];
after(async () => {
  for (const m of monitors) if (m.child.exitCode === null && m.child.signalCode === null) await m.stop('SIGKILL');
});

function setup(keys: Record<string, string> = {}) {
  const root = scratchDir('osync-ts-monitor-');
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  // MAX_WAIT is far away: whatever syncs in these tests was started by a change.
  const conf = makeConf(root, { INSTANCE_ID: 'mon', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b, MIN_WAIT: String(MIN_WAIT), MAX_WAIT: '600', ...keys });
  return { root, a, b, conf, logFile: path.join(root, 'osync.log') };
}

function start(s: ReturnType<typeof setup>, args: string[] = ['--on-changes']): Monitor {
  const m = startMonitor([s.conf, ...args], {}, s.logFile);
  monitors.push(m);
  return m;
}

/** Seconds until `file` exists with `content`. */
async function arrives(file: string, content: string, m?: Monitor, ms = 60_000): Promise<number> {
  const t0 = Date.now();
  await waitUntil(() => `${file} to hold ${JSON.stringify(content)}${m ? `; log:\n${m.log()}` : ''}`, () => {
    try {
      return fs.readFileSync(file, 'utf8') === content;
    } catch {
      return false;
    }
  }, ms);
  return (Date.now() - t0) / 1000;
}

describe('--on-changes (initiator daemon)', () => {
  test('syncs at start, then after changes on either side, within MIN_WAIT plus a sync; ignores excluded paths and .osync_workdir', async () => {
    const s = setup({ RSYNC_EXCLUDE_PATTERN: '*.tmp;cache/' });
    writeTree(s.a, { 'at-start': 'a', 'deep/er/': null });
    const m = start(s);
    await arrives(path.join(s.b, 'at-start'), 'a', m);
    await m.settled();
    const log = m.log();
    assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - #### Running osync in initiator file monitor mode\.$/m);
    assert.match(log, /^TIME: \d+ - Sync task \[mon\] launched as /m, 'the sync child logs to the same file, with its own prefix');
    assert.match(log, /#### Monitoring now\./);

    // A change on the initiator: synced MIN_WAIT later (plus the sync itself).
    writeTree(s.a, { 'from-a': 'x' });
    const secs = await arrives(path.join(s.b, 'from-a'), 'x', m);
    assert.ok(secs < MIN_WAIT + 10, `took ${secs} s`);
    await m.settled();
    // The target (local here) is watched too.
    writeTree(s.b, { 'sub/from-b': 'y' });
    await arrives(path.join(s.a, 'sub/from-b'), 'y', m);
    await m.settled();

    // Changes the sync does not look at start nothing: excluded names, .osync_workdir.
    const runs = m.runs();
    const mark = m.log().length;
    writeTree(s.a, { 'scratch.tmp': '1', 'cache/big': '2', 'deep/er/x.tmp': '3' });
    writeTree(s.b, { 'b.tmp': '4', 'cache/other': '5' });
    fs.writeFileSync(path.join(s.a, '.osync_workdir', 'junk'), 'j');
    fs.writeFileSync(path.join(s.b, '.osync_workdir', 'junk'), 'j');
    await sleep((MIN_WAIT + 3) * 1000);
    assert.equal(m.runs(), runs, m.log().slice(mark));
    assert.doesNotMatch(m.log().slice(mark), /Changes detected/);
    // ... while the next real change still does.
    writeTree(s.a, { 'deep/er/real': 'r' });
    await arrives(path.join(s.b, 'deep/er/real'), 'r', m);
    assert.equal(fs.existsSync(path.join(s.b, 'scratch.tmp')), false);

    const r = await m.stop();
    assert.equal(r.code, 0, explain(r));
    assert.match(m.log(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - SIGTERM received: stopping the monitor\.$/m);
    assert.match(m.log(), /\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - osync finished\.\n$/);
    assert.deepEqual(m.descendants(), []);
  });

  test('a change made during a sync is synced by the next round, without waiting for MAX_WAIT', async () => {
    const arm = path.join(scratchDir('osync-ts-monitor-arm-'), 'arm');
    // The after hook runs inside the sync child: when armed, it changes the initiator then.
    const s2 = setup({
      LOCAL_RUN_AFTER_CMD: `if [ -e '${arm}' ]; then rm '${arm}'; echo during > "\${INITIATOR_SYNC_DIR}made-during-sync"; fi`,
    });
    const m = start(s2);
    await m.settled();
    const runs = m.runs();
    // A sync with nothing to carry (asked for through the push file), during which the
    // hook writes a file: only the watch that stayed on during it can see that.
    fs.writeFileSync(arm, '');
    fs.appendFileSync(path.join(s2.a, '.osync-update.push'), 'someone#20261125T134805.896587392\n');
    await arrives(path.join(s2.b, 'made-during-sync'), 'during\n', m);
    assert.ok(m.runs() >= runs + 2, m.log());
    assert.equal(fs.existsSync(arm), false);
    await m.stop();
  });

  test("a target helper's push-file line starts a sync, and osync-ts's own --on-changes-target writes one", async () => {
    const s = setup();
    const m = start(s);
    await m.settled();
    let runs = m.runs();
    const push = path.join(s.a, '.osync-update.push');
    // The line osync's helper appends: <INSTANCE_ID>#<YYYYmmddTHHMMSS.nanoseconds>.
    fs.appendFileSync(push, 'target_test#20261125T134805.896587392\n');
    await waitUntil('a sync after the push line', () => m.runs() > runs);
    await m.settled();
    assert.equal(fs.existsSync(path.join(s.b, '.osync-update.push')), false, 'the push file is never synced');

    // osync-ts as the target helper, on the "target host" (here the same one).
    runs = m.runs();
    const helperLog = path.join(s.root, 'helper.log');
    const helperConf = makeConf(s.root, { INSTANCE_ID: 'helper_task', INITIATOR_SYNC_DIR: s.a, TARGET_SYNC_DIR: s.b, MIN_WAIT: '1', MAX_WAIT: '600' }, 'helper.conf');
    const h = startMonitor([helperConf, '--on-changes-target'], {}, helperLog);
    monitors.push(h);
    await h.waitLog(/Initiator of instance \[helper_task\] should be notified of file changes now\./);
    await waitUntil('a sync after the helper started', () => m.runs() > runs);
    const lines = fs.readFileSync(push, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'target_test#20261125T134805.896587392');
    assert.match(lines[lines.length - 1]!, /^helper_task#\d{8}T\d{6}\.\d{9}$/);
    // A change on the target: the helper notices and notifies again.
    await h.waitLog(/#### Monitoring now\./);
    const notes = (h.log().match(/should be notified/g) ?? []).length;
    writeTree(s.b, { 'on-target': 't' });
    await h.waitLog(/#### Changes detected, waiting 1 seconds before running next trigger\./);
    await waitUntil('a second notification', () => (h.log().match(/should be notified/g) ?? []).length > notes);
    assert.equal(fs.readFileSync(push, 'utf8').trim().split('\n').length, lines.length + 1);
    const hr = await h.stop();
    assert.equal(hr.code, 0, explain(hr));
    assert.match(h.log(), /#### Running osync in target helper file monitor mode\./);
    await m.stop();
  });

  test('one SIGTERM during a sync: the sync stops, no lock and no process left, exit 0; the next run resumes', async () => {
    // A transfer slow enough to be caught in the middle (50 KiB/s).
    const s = setup({ BANDWIDTH: '50' });
    fs.writeFileSync(path.join(s.a, 'big'), Buffer.alloc(4 * 1024 * 1024, 7));
    const m = start(s);
    const lockA = path.join(s.a, '.osync_workdir', 'lock');
    const lockB = path.join(s.b, '.osync_workdir', 'lock');
    const cmdline = (pid: number) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      } catch {
        return [];
      }
    };
    await waitUntil('the transfer to start', () => fs.existsSync(lockA) && fs.existsSync(lockB) && m.descendants().some((p) => cmdline(p).includes('--bwlimit=50')), 60_000);
    await sleep(500);
    const started = m.descendants();
    const t0 = Date.now();
    const r = await m.stop('SIGTERM');
    assert.equal(r.code, 0, explain(r));
    // Stopped, not finished: the transfer alone would take over a minute.
    assert.ok(Date.now() - t0 < 20_000, `stopped after ${Date.now() - t0} ms`);
    assert.notEqual(fs.existsSync(path.join(s.b, 'big')) && fs.statSync(path.join(s.b, 'big')).size, 4 * 1024 * 1024);
    assert.equal(fs.existsSync(lockA), false, 'initiator lock released');
    assert.equal(fs.existsSync(lockB), false, 'target lock released');
    // Every process the daemon started is gone (a moment later: the watcher's helper
    // processes end as their input closes, and are reaped by init).
    const alive = () => started.filter((pid) => cmdline(pid).join('') !== '').map((pid) => `${pid} ${cmdline(pid).join(' ')}`);
    await waitUntil(() => `no process left: ${alive().join(', ')}`, () => alive().length === 0, 5000);
    const log = m.log();
    assert.match(log, /Sync stopped by SIGTERM\. The next run will resume\./);
    assert.doesNotMatch(log, /osync child exited with error/);
    assert.match(log, /osync finished\.\n$/);
    // The next (plain) run resumes and completes.
    makeConf(s.root, { INSTANCE_ID: 'mon', INITIATOR_SYNC_DIR: s.a, TARGET_SYNC_DIR: s.b });
    const next = await runOsync([s.conf], { LOGFILE: path.join(s.root, 'next.log') });
    assert.match(next.log, /Trying to resume aborted execution/);
    assert.equal(next.code, 0, explain(next));
    assert.deepEqual(readTree(s.b), readTree(s.a));
  });

  test('a missing initiator directory, or no inotifywait: one CRITICAL line, exit 1', async () => {
    const s = setup();
    fs.rmSync(s.a, { recursive: true });
    const r = await runOsync([s.conf, '--on-changes'], { LOGFILE: s.logFile });
    assert.equal(r.code, 1, explain(r));
    assert.match(r.log, /\(CRITICAL\):Initiator directory \[.*\/a\] does not exist\. Cannot monitor\./);
    fs.mkdirSync(s.a);
    // PATH without inotifywait (but with sh, cat and node's own tools).
    const bin = path.join(s.root, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['sh', 'cat', 'rsync']) fs.symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
    const r2 = await runOsync([s.conf, '--on-changes'], { LOGFILE: s.logFile, PATH: bin });
    assert.equal(r2.code, 1, explain(r2));
    assert.match(r2.log, /\(CRITICAL\):No inotifywait command found\. Cannot monitor changes/);
  });
});
