// Bad input through the real command line: one (CRITICAL) line naming the problem, exit 1,
// nothing changed on either replica, never a stack trace; unknown config keys are named
// with their line and the closest known key; a remote path starting with "-" works in
// every remote step (real rsync, loopback sshd).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explain, makeConf, quickSync, runOsync, type OsyncResult } from './support/osync.js';
import { keyPath, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { readTree, replicaPair, rmTree, writeTree } from './support/tree.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmTree(d);
});

function pair(): { root: string; a: string; b: string } {
  const p = replicaPair('osync-ts-bad-');
  dirs.push(p.root);
  writeTree(p.a, { 'f.txt': 'from a' });
  return p;
}

// eslint-disable-next-line no-control-regex
const plain = (t: string) => t.replace(/\x1b\[[0-9;]*m/g, '');
const screen = (r: OsyncResult) => plain(r.stdout + r.stderr);

/** Exit 1, the message on one line, "finished with errors", no stack, nothing else said. */
function assertOneLine(r: OsyncResult, message: RegExp): void {
  assert.equal(r.code, 1, explain(r));
  const lines = screen(r).split('\n').filter(Boolean);
  assert.doesNotMatch(screen(r) + r.log, /^\s+at /m, 'a stack trace');
  assert.doesNotMatch(screen(r) + r.log, /Unexpected failure/);
  const hits = lines.filter((l) => message.test(l));
  assert.equal(hits.length, 1, explain(r));
}

describe('bad input: one CRITICAL line, exit 1, nothing changed', () => {
  test('a target whose host is an ssh option (ssh://u@-oProxyCommand=…//p) is refused before anything runs', async () => {
    const { root, a } = pair();
    const marker = path.join(root, 'proxy-ran');
    const r = await quickSync(a, `ssh://u@-oProxyCommand=touch${'${IFS}'}${marker}//p`);
    assertOneLine(r, /Invalid ssh URI \[ssh:\/\/u@-oProxyCommand=.*\]: bad host name \[-oProxyCommand=/);
    assert.equal(fs.existsSync(marker), false);
    assert.equal(fs.existsSync(path.join(a, '.osync_workdir')), false, 'the initiator was not touched');
  });

  test('a remote token with characters a shell would read (space, ;) is refused', async () => {
    const { a } = pair();
    const r = await runOsync([`--initiator=${a}`, '--target=ssh://u@127.0.0.1:1//p', '--rsakey=/etc/hostname', '--remote-token=tok en;id']);
    assertOneLine(r, /Bad _REMOTE_TOKEN: the remote token .* may only contain letters, digits and _ \. , : \+ @ % -/);
    assert.equal(fs.existsSync(path.join(a, '.osync_workdir')), false);
  });

  test('an INSTANCE_ID containing "/" is refused', async () => {
    const { a, b } = pair();
    const r = await quickSync(a, b, ['--instance-id=nightly/photos']);
    assertOneLine(r, /Bad INSTANCE_ID \[nightly\/photos\]: it names this task's state and log files, so it may not contain "\/"/);
    assert.equal(fs.existsSync(path.join(a, '.osync_workdir')), false);
    assert.deepEqual(readTree(b), {});
  });

  test('a state file that is a directory: named, exit 1, both replicas and the state as they were', async () => {
    const { a, b } = pair();
    assert.equal((await quickSync(a, b)).code, 0);
    writeTree(a, { 'new.txt': 'new' });
    const state = path.join(a, '.osync_workdir/state');
    for (const name of ['initiator-tree-after-quicksync_task', 'resume-count-quicksync_task']) {
      const file = path.join(state, name);
      const saved = fs.readFileSync(file);
      fs.rmSync(file);
      fs.mkdirSync(file);
      const before = { a: readTree(a, { skipWorkdir: false }), b: readTree(b, { skipWorkdir: false }) };
      const r = await quickSync(a, b);
      assertOneLine(r, new RegExp(`State file \\[${file}\\] is not a regular file; move it out of the way\\. Nothing was changed\\.`));
      assert.deepEqual({ a: readTree(a, { skipWorkdir: false }), b: readTree(b, { skipWorkdir: false }) }, before);
      fs.rmdirSync(file);
      fs.writeFileSync(file, saved);
    }
    const r = await quickSync(a, b);
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(b, 'new.txt'), 'utf8'), 'new');
  });

  test('a value with unquoted text after it in SMTP_PASSWORD: the error does not quote the password', async () => {
    const { root, a, b } = pair();
    const conf = path.join(root, 'pw.conf');
    fs.writeFileSync(conf, `CONFIG_FILE_REVISION=1.3.0\nINSTANCE_ID=pw\nINITIATOR_SYNC_DIR=${a}\nTARGET_SYNC_DIR=${b}\nSMTP_PASSWORD=hunter2 wolf-moon-42\n`);
    const r = await runOsync([conf]);
    assertOneLine(r, /Cannot read the value of SMTP_PASSWORD \(.*pw\.conf:5\): unexpected text \[\(not shown\)\] after the value\./);
    assert.doesNotMatch(screen(r), /wolf-moon|hunter2/);
  });
});

describe('unknown keys in a config file', () => {
  test('each typo is named with its line and the closest known key; the typo takes no effect', async () => {
    const { root, a, b } = pair();
    const conf = makeConf(root, {
      INSTANCE_ID: 'typos',
      BASE: root,
      INITIATOR_SYNC_DIR: a,
      TARGET_SYNC_DIR: b,
      SOFT_DELTE_DAYS: '3',
      CONFLICT_PREVALENCE: 'target',
      RSYNC_EXCLUDE_PATERN: '*.txt',
      SOMETHING_ELSE_ENTIRELY: 'x',
      // Keys of osync's own sample and of older osync versions are known, not typos.
      COMPRESSION_LEVEL: '3',
      REMOTE_USER: 'bob',
      MASTER_SYNC_DIR: a,
    });
    // A helper variable the file uses is not a typo either.
    fs.appendFileSync(conf, 'LOGFILE="$BASE/typos.log"\n');
    const r = await runOsync([conf], { LOGFILE: path.join(root, 'ignored.log') });
    const log = fs.readFileSync(path.join(root, 'typos.log'), 'utf8');
    assert.equal(r.code, 2, explain(r));
    const warnings = log.split('\n').filter((l) => l.includes('(WARN):Unknown key'));
    const name = path.basename(conf);
    assert.deepEqual(
      warnings.map((l) => l.replace(/^TIME: \d+ - \(WARN\):/, '').replace(conf, name)),
      [
        `Unknown key [SOFT_DELTE_DAYS] in ${name} line 9: ignored. Did you mean SOFT_DELETE_DAYS?`,
        `Unknown key [CONFLICT_PREVALENCE] in ${name} line 10: ignored. Did you mean CONFLICT_PREVALANCE?`,
        `Unknown key [RSYNC_EXCLUDE_PATERN] in ${name} line 11: ignored. Did you mean RSYNC_EXCLUDE_PATTERN?`,
        `Unknown key [SOMETHING_ELSE_ENTIRELY] in ${name} line 12: ignored.`,
      ],
    );
    // The misspelt exclude pattern excluded nothing.
    assert.equal(fs.readFileSync(path.join(b, 'f.txt'), 'utf8'), 'from a');
  });
});

describe('a remote path starting with "-" (ssh://u@h/-dir, relative to the remote home)', () => {
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });

  test('works in every remote step: check, lock, listing, transfers, soft deletes, backups, purge, --list-trash, --restore', async () => {
    const { a } = pair();
    const rel = `-osync-ts-dash-${randomBytes(4).toString('hex')}`;
    const home = '/home/' + sshd.user;
    const b = path.join(home, rel);
    fs.mkdirSync(b);
    dirs.push(b);
    const uid = fs.statSync(home).uid;
    fs.chownSync(b, uid, fs.statSync(home).gid);
    writeTree(a, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`keep${i}`, `k${i}`])));
    const run = (args: string[] = []) =>
      runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, sshd.user, rel)}`, `--rsakey=${keyPath(sshd, 'user')}`, ...args], {
        SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '),
      });
    const stamp = path.join(a, '.osync_workdir/state/cleanup-quicksync_task');
    let r = await run();
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(b, 'f.txt'), 'utf8'), 'from a');
    assert.match(r.log, /File cleanup complete on target replica\./);
    // A deletion (soft delete on the target) and an edit (backup on the target); the purge again.
    fs.rmSync(path.join(a, 'keep0'));
    writeTree(a, { 'f.txt': 'edited on a' }, { mtime: Math.floor(Date.now() / 1000) + 5 });
    fs.rmSync(stamp);
    r = await run();
    assert.equal(r.code, 0, explain(r));
    assert.match(r.log, /File cleanup complete on target replica\./);
    assert.equal(fs.readFileSync(path.join(b, '.osync_workdir/deleted/keep0'), 'utf8'), 'k0');
    assert.equal(fs.readFileSync(path.join(b, '.osync_workdir/backup/f.txt'), 'utf8'), 'from a');
    r = await run(['--list-trash']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /^target +deleted .* keep0$/m);
    r = await run(['--restore=keep0']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(fs.readFileSync(path.join(b, 'keep0'), 'utf8'), 'k0');
    r = await run();
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(readTree(a), readTree(b));
    assert.ok(!fs.existsSync(path.join(b, '.osync_workdir/lock')), 'the remote lock is released');
  });
});
