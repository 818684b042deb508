// The sync against a target on a real sshd on 127.0.0.1: the main local scenarios
// again (same assertions), sudo for a non-root user on a root-owned tree, osync's
// forced-command (ssh_filter) setup, the error cases, and the number of ssh sessions.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explain, runOsync, type OsyncResult } from './support/osync.js';
import { keyPath, runProgram, sshdClientArgs, sshdUri, startSshd, type KeyName, type TestSshd } from './support/sshd.js';
import { readTree, replicaPair, rmTree, secondsAgo, setMtime, writeTree } from './support/tree.js';

let sshd: TestSshd;
const dirs: string[] = [];

before(async () => {
  sshd = await startSshd();
});
after(async () => {
  await sshd?.stop();
  for (const d of dirs) rmTree(d);
});

function pair(): { a: string; b: string; root: string } {
  const p = replicaPair('osync-ts-remote-');
  dirs.push(p.root);
  return p;
}

function sshEnv(extra: Record<string, string> = {}): Record<string, string> {
  // Propagation is tested here; the deletion guard (guard-e2e.test.ts) is relaxed.
  return { SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '), MAX_DELETE_PERCENT: '100', ...extra };
}

function remoteSync(a: string, b: string, opts: { key?: KeyName; user?: string; args?: string[]; env?: Record<string, string> } = {}): Promise<OsyncResult> {
  const key = opts.key ?? 'root';
  const user = opts.user ?? (key === 'root' ? 'root' : sshd.user);
  return runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, user, b)}`, `--rsakey=${keyPath(sshd, key)}`, ...(opts.args ?? [])], sshEnv(opts.env));
}

describe('remote target over ssh', () => {
  test('first run merges both sides; the second run changes nothing', async () => {
    const { a, b } = pair();
    writeTree(a, { 'f1': 'one', 'd/sub/f2': 'two', 'link': { symlink: 'f1' } });
    writeTree(b, { 'g1': 'three' });
    const r = await remoteSync(a, b, { args: ['--summary'] });
    assert.equal(r.code, 0, explain(r));
    const expected = { 'd': '<dir>', 'd/sub': '<dir>', 'd/sub/f2': 'two', 'f1': 'one', 'g1': 'three', 'link': '-> f1' };
    assert.deepEqual(readTree(a), expected);
    assert.deepEqual(readTree(b), expected);
    assert.match(r.stdout, /UPDATE << .*\/a\/g1/);
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/state/target-tree-after-quicksync_task'), 'utf8'), 'd\nd/sub\nd/sub/f2\nf1\ng1\nlink\n');
    const again = await remoteSync(a, b, { args: ['--summary'] });
    assert.equal(again.code, 0, explain(again));
    assert.match(again.stdout, /Initiator has 0 updates\.\nTarget has 0 updates\.\nInitiator has 0 deletions\.\nTarget has 0 deletions\./);
  });

  test('modifications, conflicts, deletions and kept-over-deletion both ways', async () => {
    const { a, b } = pair();
    const old = Math.floor(Date.now() / 1000) - 3600;
    writeTree(a, { 'mod-a': 'v1', 'mod-b': 'v1', 'both': 'v1', 'del-a': 'x', 'del-b': 'y', 'dir/x': 'x', 'keep': 'v1' }, { mtime: old });
    assert.equal((await remoteSync(a, b)).code, 0);
    writeTree(a, { 'mod-a': 'v2 from a', 'both': 'a version' }, { mtime: old + 100 });
    writeTree(b, { 'mod-b': 'v2 from b', 'both': 'b newer version' }, { mtime: old + 200 });
    fs.rmSync(path.join(a, 'del-a'));
    fs.rmSync(path.join(b, 'del-b'));
    fs.rmSync(path.join(a, 'dir'), { recursive: true });
    // Deleted on the initiator, edited on the target: kept (osync would delete it).
    fs.rmSync(path.join(a, 'keep'));
    writeTree(b, { 'keep': 'edited on b' }, { mtime: old + 300 });
    const r = await remoteSync(a, b);
    assert.equal(r.code, 0, explain(r));
    const expected = { 'both': 'b newer version', 'keep': 'edited on b', 'mod-a': 'v2 from a', 'mod-b': 'v2 from b' };
    assert.deepEqual(readTree(a), expected);
    assert.deepEqual(readTree(b), expected);
    // Losers and deletions are kept in the replica that lost them.
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/backup/both'), 'utf8'), 'a version');
    assert.equal(fs.readFileSync(path.join(b, '.osync_workdir/deleted/del-a'), 'utf8'), 'x');
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/deleted/del-b'), 'utf8'), 'y');
    assert.equal(fs.readFileSync(path.join(b, '.osync_workdir/deleted/dir/x'), 'utf8'), 'x');
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/state/initiator-deleted-list-quicksync_task'), 'utf8'), 'del-a\ndir\nkeep\n');
  });

  test('odd names survive the trip and their deletions propagate', async () => {
    const { a, b } = pair();
    const names = [' lead and trail ', "it's \"quoted\"", '$(touch pwned)', '`id`', '*star?', '-rf', '--help', 'new\nline', 'tab\there', 'back\\#012slash', 'ünïcödé ✓', 'arrow -> name', 'arrow'];
    const spec: Record<string, string> = {};
    for (const n of names) spec[`d/${n}`] = `content of ${n}`;
    writeTree(a, spec);
    const r = await remoteSync(a, b);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(b), readTree(a));
    assert.ok(!fs.existsSync(path.join(b, 'pwned')) && !fs.existsSync(path.join(a, 'pwned')) && !fs.existsSync('pwned'));
    for (const n of names) fs.rmSync(path.join(b, 'd', n));
    const r2 = await remoteSync(a, b);
    assert.equal(r2.code, 0, explain(r2));
    assert.deepEqual(readTree(a), { d: '<dir>' });
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/deleted/d/new\nline'), 'utf8'), 'content of new\nline');
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir/deleted/d/arrow'), 'utf8'), 'content of arrow');
  });

  test('SUDO_EXEC lets a non-root user sync a root-owned tree', async () => {
    const { a, b } = pair();
    writeTree(b, { 'secret': { content: 'root only', mode: 0o600 } });
    fs.chmodSync(b, 0o700);
    writeTree(a, { 'new': 'from a' });
    const without = await remoteSync(a, b, { key: 'user' });
    assert.equal(without.code, 1, explain(without));
    assert.match(without.log, /\(CRITICAL\):.*(not writable|Permission denied|Cannot)/);
    assert.ok(!fs.existsSync(path.join(b, 'new')));
    const r = await remoteSync(a, b, { key: 'user', env: { SUDO_EXEC: 'true' } });
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(a, 'secret'), 'utf8'), 'root only');
    assert.equal(fs.readFileSync(path.join(b, 'new'), 'utf8'), 'from a');
    assert.equal(fs.statSync(path.join(b, 'new')).uid, 0);
  });

  test('a non-root remote user moves deleted files and folders into the trash, also onto another filesystem', async () => {
    const { a, b } = pair();
    writeTree(a, { 'd/x': 'x', 'd/sub/y': 'y', 'd/empty': null, top: 'top', keep: 'keep', 'odd name\n': 'n' });
    const uid = Number((await runProgram('id', ['-u', sshd.user])).stdout.trim());
    fs.chownSync(b, uid, uid);
    const first = await remoteSync(a, b, { key: 'user' });
    assert.equal(first.code, 0, explain(first));
    rmTree(path.join(a, 'd'));
    fs.rmSync(path.join(a, 'top'));
    fs.rmSync(path.join(a, 'odd name\n'));
    const del = await remoteSync(a, b, { key: 'user' });
    assert.equal(del.code, 0, explain(del));
    assert.deepEqual(readTree(b), { keep: 'keep' });
    const trash = path.join(b, '.osync_workdir', 'deleted');
    assert.deepEqual(readTree(trash), { d: '<dir>', 'd/x': 'x', 'd/sub': '<dir>', 'd/sub/y': 'y', 'd/empty': '<dir>', top: 'top', 'odd name\n': 'n' });
    // The trash on a filesystem of its own: the items are moved there all the same.
    const mounted = await runProgram('mount', ['-t', 'tmpfs', '-o', `uid=${uid}`, 'osync-ts-test', trash]);
    if (mounted.code !== 0) {
      console.log(`# skipped the other-filesystem half: cannot mount a tmpfs here (${mounted.stderr.trim()})`);
      return;
    }
    try {
      fs.rmSync(path.join(a, 'keep'));
      const cross = await remoteSync(a, b, { key: 'user' });
      assert.equal(cross.code, 0, explain(cross));
      assert.deepEqual(readTree(b), {});
      assert.deepEqual(readTree(trash), { keep: 'keep' });
    } finally {
      await runProgram('umount', [trash]);
    }
  });

  test("works behind an ssh_filter-style forced command with the right token only", async () => {
    const { a, b } = pair();
    writeTree(a, { 'f': 'x' });
    const bad = await remoteSync(a, b, { key: 'filter', args: ['--remote-token=wrong'] });
    assert.equal(bad.code, 1, explain(bad));
    assert.match(bad.log, /\(CRITICAL\):Cannot connect to remote system .*forced command/);
    assert.deepEqual(readTree(b), {});
    const ok = await remoteSync(a, b, { key: 'filter', args: [`--remote-token=${sshd.token}`], env: { SUDO_EXEC: 'true' } });
    assert.equal(ok.code, 0, explain(ok));
    assert.deepEqual(readTree(b), { f: 'x' });
  });

  test('ssh sessions are few and do not grow with the number of files', async () => {
    const { a, b } = pair();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) spec[`d${i % 30}/f${i}`] = `file ${i}`;
    writeTree(a, spec);
    const r = await remoteSync(a, b, { args: ['--verbose'] });
    assert.equal(r.code, 0, explain(r));
    const m = /ssh sessions opened: (\d+)/.exec(r.log);
    assert.ok(m, r.log);
    assert.ok(Number(m[1]) <= 10, `too many ssh sessions: ${m[1]}`);
    assert.equal(Object.keys(readTree(b)).length, 3030);
    const cm = await remoteSync(a, b, { args: ['--verbose'], env: { SSH_CONTROLMASTER: 'true' } });
    assert.equal(cm.code, 0, explain(cm));
    assert.match(cm.log, /ssh sessions opened: \d+ \(over one ControlMaster connection\)/);
    assert.deepEqual(fs.readdirSync('/tmp').filter((n) => n.startsWith('osync-ts.ctrlm.')), []);
  });

  test('a run with nothing to do opens three ssh sessions: check and lock, listing, unlock', async () => {
    const { a, b } = pair();
    // Not written in the second the first run lists them (racily clean files are compared
    // by the next run: one more session).
    writeTree(a, { 'd/f': 'x', g: 'y' }, { mtime: secondsAgo(100) });
    assert.equal((await remoteSync(a, b)).code, 0);
    const r = await remoteSync(a, b, { args: ['--verbose'] });
    assert.equal(r.code, 0, explain(r));
    assert.match(r.log, /ssh sessions opened: 3\./);
    assert.ok(!fs.existsSync(path.join(b, '.osync_workdir', 'lock')), 'the target lock is released');
    // The initiator is locked first: a run that cannot have it never locks the target.
    fs.writeFileSync(path.join(a, '.osync_workdir', 'lock'), `${process.pid}@quicksync_task\n`);
    const refused = await remoteSync(a, b, { args: ['--verbose'] });
    assert.equal(refused.code, 1, explain(refused));
    assert.doesNotMatch(refused.log, /ssh sessions opened/, 'the target was not even contacted');
    assert.match(refused.log, /already a local instance \[\d+@quicksync_task\] of osync running for this replica/);
    assert.ok(!fs.existsSync(path.join(b, '.osync_workdir', 'lock')), 'the target was not locked');
    assert.equal(fs.readFileSync(path.join(a, '.osync_workdir', 'lock'), 'utf8'), `${process.pid}@quicksync_task\n`);
  });

  test('remote locks: a live lock refuses, a dead one with our id is taken over, a stranger one refuses', async () => {
    const { a, b } = pair();
    writeTree(a, { 'f': 'x' });
    fs.mkdirSync(path.join(b, '.osync_workdir'), { recursive: true });
    const lock = path.join(b, '.osync_workdir/lock');
    fs.writeFileSync(lock, `${process.pid}@quicksync_task\n`);
    const live = await remoteSync(a, b);
    assert.equal(live.code, 1, explain(live));
    assert.match(live.log, /\(CRITICAL\):There is already a local instance of osync that locks target replica/);
    assert.ok(!fs.existsSync(path.join(b, 'f')));
    assert.ok(!fs.existsSync(path.join(a, '.osync_workdir/lock')), 'our initiator lock is released');
    fs.writeFileSync(lock, '999999@other_instance\n');
    const stranger = await remoteSync(a, b);
    assert.equal(stranger.code, 1, explain(stranger));
    assert.match(stranger.log, /does not correspond to this initiator INSTANCE_ID\. Will not resume\./);
    assert.equal(fs.readFileSync(lock, 'utf8'), '999999@other_instance\n', 'a foreign lock is left alone');
    const forced = await remoteSync(a, b, { env: { FORCE_STRANGER_LOCK_RESUME: 'true' } });
    assert.equal(forced.code, 0, explain(forced));
    fs.writeFileSync(lock, '999999@quicksync_task\n');
    const dead = await remoteSync(a, b);
    assert.equal(dead.code, 0, explain(dead));
    assert.match(dead.log, /There is a remote dead osync lock \[999999@quicksync_task\]/);
    assert.ok(!fs.existsSync(lock), 'lock removed at the end');
    // A bare pid (hand-written, or an older osync's) whose process is gone: a stale lock.
    writeTree(a, { 'g': 'y' });
    fs.writeFileSync(lock, '999999\n');
    const bare = await remoteSync(a, b);
    assert.equal(bare.code, 0, explain(bare));
    assert.match(bare.log, /There is a remote dead osync lock \[999999\] on target replica that names no INSTANCE_ID\. Pid \[999999\] no longer running\. Resuming\./);
    assert.equal(fs.readFileSync(path.join(b, 'g'), 'utf8'), 'y');
    assert.ok(!fs.existsSync(lock), 'lock removed at the end');
    // A bare pid that is alive refuses the run.
    fs.writeFileSync(lock, `${process.pid}\n`);
    const liveBare = await remoteSync(a, b);
    assert.equal(liveBare.code, 1, explain(liveBare));
    assert.match(liveBare.log, /\(CRITICAL\):There is already a local instance of osync that locks target replica \[\d+\]/);
  });

  test('errors: unreachable host, refused key, unknown host key, missing path, no remote rsync', async () => {
    const { a, b } = pair();
    writeTree(a, { 'f': 'x' });
    const before = readTree(a);
    const cases: Array<{ args: string[]; env?: Record<string, string>; expect: RegExp }> = [
      { args: [`--initiator=${a}`, `--target=ssh://root@127.0.0.1:1/${b}`, `--rsakey=${keyPath(sshd, 'root')}`], expect: /Cannot connect to remote system \[127\.0\.0\.1\] port \[1\] as \[root\]: host unreachable/ },
      { args: [`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--rsakey=${keyPath(sshd, 'user')}`], env: { SSH_OPTIONAL_ARGS: `-F none -o UserKnownHostsFile=${sshd.knownHosts} -o IdentitiesOnly=yes` }, expect: /authentication refused/ },
      { args: [`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--rsakey=${keyPath(sshd, 'root')}`], env: { SSH_OPTIONAL_ARGS: '-F none -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes' }, expect: /host key unknown or changed/ },
      { args: [`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b + '/missing')}`, `--rsakey=${keyPath(sshd, 'root')}`], expect: /Remote replica path \[.*\/missing\/\] does not exist or is not writable and CREATE_DIRS is not allowed\./ },
      { args: [`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--rsakey=${keyPath(sshd, 'root')}`], env: { RSYNC_REMOTE_PATH: '/nonexistent' }, expect: /rsync \[\/nonexistent\/rsync\] was not found on the remote host/ },
    ];
    for (const c of cases) {
      const r = await runOsync(c.args, { ...sshEnv(), ...c.env });
      assert.equal(r.code, 1, explain(r));
      const critical = r.log.split('\n').filter((l) => l.includes('(CRITICAL):'));
      assert.equal(critical.length, 1, explain(r));
      assert.match(critical[0], c.expect);
      assert.deepEqual(readTree(a), before);
      assert.ok(!fs.existsSync(path.join(a, '.osync_workdir/lock')), 'lock released');
    }
    assert.deepEqual(readTree(b), {});
  });

  test('REMOTE_HOST_PING and REMOTE_3RD_PARTY_HOSTS: pinged in order before the sync; no answer is a warning, the sync still runs', async () => {
    const { a, b, root } = pair();
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    const calls = path.join(root, 'ping.calls');
    const up = path.join(root, 'ping.up');
    // A stand-in ping (the real one needs network rights a CI box may not give): it records
    // its arguments and answers for the hosts listed in ping.up.
    fs.writeFileSync(path.join(bin, 'ping'), `#!/bin/sh\necho "$*" >> '${calls}'\nfor h; do :; done\ngrep -qxF -- "$h" '${up}'\n`, { mode: 0o755 });
    const env = (extra: Record<string, string>) => ({ PATH: `${bin}:${process.env.PATH}`, ...extra });
    const pinged = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : []);
    const hosts = { REMOTE_HOST_PING: 'yes', REMOTE_3RD_PARTY_HOSTS: 'first.example second.example third.example' };

    writeTree(a, { f1: 'one' });
    fs.writeFileSync(up, 'second.example\n127.0.0.1\n');
    let r = await remoteSync(a, b, { env: env(hosts) });
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(pinged(), ['-c 2 -i .2 -W 2 first.example', '-c 2 -i .2 -W 2 second.example', '-c 2 -i .2 -W 2 127.0.0.1']);
    assert.match(r.log, /Cannot ping 3rd party host \[first\.example\]\. Return code \[1\]\./);
    assert.deepEqual(readTree(b), { f1: 'one' });

    fs.rmSync(calls);
    fs.writeFileSync(up, '');
    writeTree(a, { f2: 'two' });
    r = await remoteSync(a, b, { env: env(hosts) });
    assert.equal(r.code, 2, explain(r));
    assert.equal(pinged().length, 4);
    assert.match(r.log, /\(WARN\):No remote 3rd party host responded to ping\. No internet \?/);
    assert.match(r.log, /\(WARN\):Cannot ping \[127\.0\.0\.1\]\. Return code \[1\]\./);
    assert.deepEqual(readTree(b), { f1: 'one', f2: 'two' }, 'a ping failure does not stop the sync');

    fs.rmSync(calls);
    r = await remoteSync(a, b, { env: env({ REMOTE_HOST_PING: 'no', REMOTE_3RD_PARTY_HOSTS: '' }) });
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(pinged(), [], 'nothing asked, nothing pinged');
  });

  test('SSH_PASSWORD_FILE without sshpass installed: one clear line, nothing touched', async () => {
    const { a, b, root } = pair();
    writeTree(a, { 'f': 'x' });
    // A PATH with the usual tools but no sshpass.
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['rsync', 'ssh', 'sh', 'df', 'find', 'cat', 'mkdir', 'mv', 'rm', 'tail']) {
      for (const dir of ['/usr/bin', '/bin']) {
        if (fs.existsSync(path.join(dir, tool))) {
          fs.symlinkSync(path.join(dir, tool), path.join(bin, tool));
          break;
        }
      }
    }
    const pw = path.join(root, 'password');
    fs.writeFileSync(pw, 'secret\n');
    const r = await runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, 'root', b)}`, `--password-file=${pw}`], { PATH: bin });
    assert.equal(r.code, 1, explain(r));
    assert.match(r.log, /\(CRITICAL\):sshpass not present\. Cannot start sync\. SSH_PASSWORD_FILE needs sshpass/);
    assert.deepEqual(readTree(b), {});
    assert.ok(!fs.existsSync(path.join(a, '.osync_workdir')));
  });

  test('SUDO_EXEC for a user whose sudo asks for a password: one clear line, nothing touched', async () => {
    const { a, b } = pair();
    writeTree(a, { 'f': 'x' });
    // A second login user with the same key but no sudoers entry: `sudo -n` must refuse.
    const user = 'osyncnopw';
    const exists = (await runProgram('getent', ['passwd', user])).code === 0;
    if (!exists) await runProgram('useradd', ['-m', '-s', '/bin/sh', user]);
    await runProgram('usermod', ['-p', '*', user]);
    fs.writeFileSync(path.join(sshd.dir, 'authorized_keys', user), fs.readFileSync(keyPath(sshd, 'user') + '.pub'), { mode: 0o644 });
    const r = await remoteSync(a, b, { key: 'user', user, env: { SUDO_EXEC: 'true' } });
    assert.equal(r.code, 1, explain(r));
    const critical = r.log.split('\n').filter((l) => l.includes('(CRITICAL):'));
    assert.equal(critical.length, 1, explain(r));
    assert.match(critical[0], /sudo asks for a password: SUDO_EXEC needs passwordless sudo/);
    assert.deepEqual(readTree(b), {});
    assert.ok(!fs.existsSync(path.join(a, '.osync_workdir/lock')));
  });

  test('CREATE_DIRS creates the remote root, TARGET_CUSTOM_STATE_DIR is created on the target', async () => {
    const { a, b, root } = pair();
    writeTree(a, { 'f': 'x' });
    const target = path.join(b, 'new/root');
    const custom = path.join(root, 'target-state');
    const r = await remoteSync(a, target, { env: { CREATE_DIRS: 'true' }, args: [`--target-state-dir=${custom}`] });
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(target), { f: 'x' });
    assert.ok(fs.statSync(custom).isDirectory());
    setMtime(path.join(a, 'f'), Date.now() / 1000);
  });
});
