// Monitor mode against a target on a real sshd (loopback): the daemon watches the target
// through one ssh session (the sync's own key, token for a forced command, and sudo),
// reconnects when that session is killed, falls back to MAX_WAIT when the target has no
// inotifywait; the target helper notifies a remote initiator over ssh.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProgram, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { explain, makeConf } from './support/osync.js';
import { startMonitor, waitUntil, type Monitor } from './support/monitor.js';
import { scratchDir, writeTree } from './support/tree.js';

let sshd: TestSshd;
const monitors: Monitor[] = [];
before(async () => {
  sshd = await startSshd();
});
after(async () => {
  for (const m of monitors) if (m.child.exitCode === null && m.child.signalCode === null) await m.stop('SIGKILL');
  await sshd?.stop();
});

/** Two replica directories and a conf: `keys(a, b)` adds to (or replaces) the defaults. */
function setup(keys: (a: string, b: string) => Record<string, string>, name?: string) {
  const root = scratchDir('osync-ts-monitor-remote-');
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  const conf = makeConf(root, {
    INSTANCE_ID: 'remote_mon',
    INITIATOR_SYNC_DIR: a,
    TARGET_SYNC_DIR: sshdUri(sshd, 'root', b),
    SSH_RSA_PRIVATE_KEY: sshd.rootKey,
    SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '),
    MIN_WAIT: '1',
    MAX_WAIT: '600',
    ...keys(a, b),
  }, name);
  return { root, a, b, conf, logFile: path.join(root, 'osync.log') };
}

function start(conf: string, logFile: string, args = ['--on-changes']): Monitor {
  const m = startMonitor([conf, ...args], {}, logFile);
  monitors.push(m);
  return m;
}

async function arrives(file: string, content: string, m: Monitor, ms = 60_000): Promise<void> {
  await waitUntil(() => `${file} to hold ${JSON.stringify(content)}; log:\n${m.log()}`, () => {
    try {
      return fs.readFileSync(file, 'utf8') === content;
    } catch {
      return false;
    }
  }, ms);
}

function procs(): { pid: number; ppid: number; comm: string; cmd: string[] }[] {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const comm = fs.readFileSync(`/proc/${e}/comm`, 'latin1').trim();
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1').split('\0');
      out.push({ pid: Number(e), ppid, comm, cmd });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The inotifywait processes watching `dir` (the sshd is on this host: the "remote" ones too). */
function watchersOf(dir: string) {
  return procs().filter((p) => p.comm === 'inotifywait' && p.cmd.includes(`${dir}/`));
}

describe('--on-changes with a target over ssh', () => {
  test('a change on the target is synced without waiting for MAX_WAIT; the watch comes back after its ssh session is killed', async () => {
    // A non-root login with a forced command that checks the token, and sudo (the target is root's).
    const s = setup((_a, b) => ({
      TARGET_SYNC_DIR: sshdUri(sshd, sshd.user, b),
      SSH_RSA_PRIVATE_KEY: sshd.filterKey,
      _REMOTE_TOKEN: sshd.token,
      SUDO_EXEC: 'true',
    }));
    writeTree(s.a, { 'from-a': 'a' });
    const m = start(s.conf, s.logFile);
    await arrives(path.join(s.b, 'from-a'), 'a', m);
    await waitUntil(() => `the watch on the target: ${JSON.stringify(procs().filter((p) => p.comm === "inotifywait"))}\n${m.log()}`, () => watchersOf(s.b).length === 1);
    const [remote] = watchersOf(s.b);
    // The remote inotifywait runs as root (sudo) although the login is osyncremote.
    assert.equal(fs.statSync(`/proc/${remote!.pid}`).uid, 0);
    await m.settled();

    writeTree(s.b, { 'from-target': 't' });
    await arrives(path.join(s.a, 'from-target'), 't', m, 30_000);
    assert.doesNotMatch(m.log(), /timeout reached/);
    await m.settled();

    // Kill the sshd process of the watch's session: the connection drops as in a network cut.
    const all = procs();
    const byPid = new Map(all.map((p) => [p.pid, p]));
    let p = byPid.get(watchersOf(s.b)[0]!.pid);
    while (p && !(p.cmd[0] ?? '').startsWith('sshd:')) p = byPid.get(p.ppid);
    assert.ok(p, 'the sshd session of the watch');
    process.kill(p.pid, 'SIGKILL');
    await m.waitLog(/\(WARN\):The watch on the target replica stopped \(exit code 255/);
    await m.waitLog(/Watching the target replica for changes again\./);
    // Changes made while the watch was gone may have been missed: a sync follows.
    await m.settled();
    assert.equal(watchersOf(s.b).length, 1, 'the old remote watcher ended with its session');
    writeTree(s.b, { 'after-reconnect': 'r' });
    await arrives(path.join(s.a, 'after-reconnect'), 'r', m, 30_000);
    assert.doesNotMatch(m.log(), /timeout reached/);
    assert.doesNotMatch(m.log(), new RegExp(sshd.token), 'the token is never logged');

    const r = await m.stop();
    assert.equal(r.code, 2, explain(r)); // the lost watch was a warning
    await waitUntil('no watcher left', () => watchersOf(s.b).length === 0 && watchersOf(s.a).length === 0, 10_000);
  });

  test('no inotifywait on the target: said once, and its changes are synced every MAX_WAIT', async () => {
    // A key whose forced command gives a PATH with everything but inotifywait.
    const dir = scratchDir('osync-ts-noinotify-');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    for (const name of fs.readdirSync('/usr/bin')) if (!name.startsWith('inotify')) fs.symlinkSync(`/usr/bin/${name}`, path.join(bin, name));
    const key = path.join(dir, 'id_noinotify');
    assert.equal((await runProgram('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])).code, 0);
    const wrapper = path.join(dir, 'no-inotify.sh');
    fs.writeFileSync(wrapper, `PATH=${bin}; export PATH; exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`);
    fs.chmodSync(dir, 0o755);
    fs.appendFileSync(path.join(sshd.dir, 'authorized_keys', 'root'), `command="/bin/sh ${wrapper}" ${fs.readFileSync(`${key}.pub`, 'utf8').trim()}\n`);

    const s = setup(() => ({ SSH_RSA_PRIVATE_KEY: key, MAX_WAIT: '4' }));
    const m = start(s.conf, s.logFile);
    await m.waitLog(/\(WARN\):inotifywait is not installed on the target host \[127\.0\.0\.1\]: changes made there are synced at least every MAX_WAIT \(4 s\)\./);
    await m.waitLog(/#### Monitoring now\./);
    writeTree(s.b, { 'from-target': 't' });
    await arrives(path.join(s.a, 'from-target'), 't', m, 30_000);
    assert.match(m.log(), /#### 4 timeout reached, running sync\./);
    assert.equal((m.log().match(/inotifywait is not installed/g) ?? []).length, 1);
    const r = await m.stop();
    assert.equal(r.code, 2, explain(r));
  });
});

describe('--on-changes-target with the initiator over ssh', () => {
  test('appends its push line to the remote initiator', async () => {
    // On the target's host, the initiator is the remote one.
    const s = setup((a, b) => ({ INSTANCE_ID: 'helper_remote', INITIATOR_SYNC_DIR: sshdUri(sshd, 'root', a), TARGET_SYNC_DIR: b }), 'helper.conf');
    const conf = s.conf;
    const h = start(conf, s.logFile, ['--on-changes-target']);
    await h.waitLog(/Initiator of instance \[helper_remote\] should be notified of file changes now\./);
    await h.waitLog(/#### Monitoring now\./);
    writeTree(s.b, { 'x': 'x' });
    await waitUntil(() => `a second line:\n${h.log()}`, () => (h.log().match(/should be notified/g) ?? []).length === 2);
    const lines = fs.readFileSync(path.join(s.a, '.osync-update.push'), 'utf8').split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines.slice(0, 2)) assert.match(l, /^helper_remote#\d{8}T\d{6}\.\d{9}$/);
    const r = await h.stop();
    assert.equal(r.code, 0, explain(r));

    // A missing initiator directory is an error line, and the helper keeps going.
    fs.rmSync(s.a, { recursive: true });
    const logFile = path.join(s.root, 'helper2.log');
    const h2 = start(conf, logFile, ['--on-changes-target']);
    await h2.waitLog(/\(ERROR\):Cannot find initiator replica dir \[.*\/a\]\./);
    await h2.waitLog(/#### Monitoring now\./);
    assert.equal((await h2.stop()).code, 1);
  });
});
