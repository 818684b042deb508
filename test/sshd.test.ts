// The loopback sshd harness (test/support/sshd.ts) together with the real
// ssh/rsync command lines of lib/proc/ssh.ts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startSshd,
  sshRun,
  sshdClientOptions,
  sshdTarget,
  sshdUri,
  runProgram,
  FILTER_REFUSAL_MESSAGE,
  type TestSshd,
} from './support/sshd.js';
import { parseSshUri, remoteCommand, rsyncPath, rsyncRemoteShell, rsyncHostSpec } from '../lib/proc/ssh.js';

let sshd: TestSshd;
let data = '';

before(async () => {
  sshd = await startSshd();
  data = path.join(sshd.dir, 'data dir');
  fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(data, 'a.txt'), 'a');
  fs.writeFileSync(path.join(data, "it's $weird `name`.txt"), 'w');
  fs.writeFileSync(path.join(data, 'sub', 'b.txt'), 'bb');
  fs.chmodSync(data, 0o755);
});

after(async () => {
  await sshd?.stop();
});

describe('logins', () => {
  test('root key runs as root', async () => {
    const r = await sshRun(sshd, 'root', 'id -un');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'root');
  });

  test('user key runs as osyncremote, which has password-less sudo', async () => {
    const me = await sshRun(sshd, 'user', 'id -un');
    assert.equal(me.code, 0, me.stderr);
    assert.equal(me.stdout.trim(), sshd.user);
    const su = await sshRun(sshd, 'user', 'sudo -n id -un');
    assert.equal(su.code, 0, su.stderr);
    assert.equal(su.stdout.trim(), 'root');
  });

  test('a key is not accepted for another user', async () => {
    const r = await sshRun(sshd, 'user', 'id -un', { user: 'root' });
    assert.equal(r.code, 255);
  });

  test('stdin reaches the remote command (helper scripts are sent this way)', async () => {
    const r = await sshRun(sshd, 'root', remoteCommand(['sh', '-s'], sshd.token, false), { input: 'echo "$_REMOTE_TOKEN $LC_ALL"\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${sshd.token} C`);
  });

  test('a relative ssh:// path is relative to the login directory', async () => {
    const t = parseSshUri(sshdUri(sshd, sshd.user, 'rel/x'), 'nobody');
    assert.equal(t.path, 'rel/x');
    assert.equal(t.port, sshd.port);
    const r = await sshRun(sshd, 'user', 'pwd');
    assert.equal(r.stdout.trim(), `/home/${sshd.user}`);
  });
});

describe('forced-command key (ssh_filter stand-in)', () => {
  test('right token: command runs (with and without sudo)', async () => {
    const r = await sshRun(sshd, 'filter', remoteCommand(['id', '-un'], sshd.token, false));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), sshd.user);
    const s = await sshRun(sshd, 'filter', remoteCommand(['id', '-un'], sshd.token, true));
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout.trim(), 'root');
    const asRoot = await sshRun(sshd, 'filter', remoteCommand(['id', '-un'], sshd.token, false), { user: 'root' });
    assert.equal(asRoot.stdout.trim(), 'root');
  });

  test('wrong or missing token: refused like ssh_filter', async () => {
    for (const cmd of [remoteCommand(['id', '-un'], 'wrongToken', false), 'id -un', `env _REMOTE_TOKEN=${sshd.token.slice(0, -1)}x id`]) {
      const r = await sshRun(sshd, 'filter', cmd);
      assert.equal(r.code, 1, cmd);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(FILTER_REFUSAL_MESSAGE));
    }
  });

  test('nasty arguments arrive literally through ssh and the filter', async () => {
    const marker = path.join(sshd.dir, 'PWNED');
    const words = ['a b', "it's", '$HOME', `$(touch ${marker})`, `\`touch ${marker}\``, `; touch ${marker}`, 'x\ny', '-rf', '', '"q"'];
    const r = await sshRun(sshd, 'filter', remoteCommand(['printf', '%s\\0', ...words], sshd.token, false));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.slice(0, -1).split('\0'), words);
    assert.equal(fs.existsSync(marker), false);
  });
});

describe('rsync over the remote shell string', () => {
  async function listRemote(key: 'root' | 'user' | 'filter', user: string, dir: string, sudo: boolean, keyOverride?: string) {
    const opts = sshdClientOptions(sshd, key, keyOverride ? { privateKey: keyOverride } : {});
    const t = sshdTarget(sshd, user, dir);
    return runProgram('rsync', [
      '-r', '--list-only',
      '-e', rsyncRemoteShell(opts, t),
      `--rsync-path=${rsyncPath('', 'rsync', sshd.token, sudo)}`,
      `${rsyncHostSpec(t)}:${dir}/`,
    ]);
  }

  test('rsync --list-only lists a remote dir (root key)', async () => {
    const r = await listRemote('root', 'root', data, false);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / a\.txt$/m);
    assert.match(r.stdout, / sub\/b\.txt$/m);
    assert.ok(r.stdout.includes("it's $weird `name`.txt"));
  });

  test('through the filter key: --rsync-path carries the token', async () => {
    const r = await listRemote('filter', sshd.user, data, false);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / a\.txt$/m);
  });

  test('sudo rsync reads a root-only dir as osyncremote', async () => {
    const secret = path.join(sshd.dir, 'root-only');
    fs.mkdirSync(secret, { mode: 0o700 });
    fs.writeFileSync(path.join(secret, 'secret.txt'), 's');
    const denied = await listRemote('user', sshd.user, secret, false);
    assert.notEqual(denied.code, 0);
    const r = await listRemote('filter', sshd.user, secret, true);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / secret\.txt$/m);
  });

  test('a key path with spaces and quotes survives rsync -e splitting', async () => {
    const odd = path.join(sshd.dir, `key dir it's "q"`);
    fs.mkdirSync(odd);
    const key = path.join(odd, 'id $x');
    fs.copyFileSync(sshd.rootKey, key);
    fs.chmodSync(key, 0o600);
    const r = await listRemote('root', 'root', data, false, key);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / a\.txt$/m);
  });
});

describe('harness lifecycle', () => {
  test('independent instances; stop() removes everything', async () => {
    const [a, b] = await Promise.all([startSshd(), startSshd()]);
    try {
      assert.notEqual(a.port, b.port);
      assert.notEqual(a.dir, b.dir);
      assert.equal((await sshRun(b, 'root', 'echo ok')).stdout.trim(), 'ok');
      // a's key is not authorised on b
      const cross = await sshRun({ ...b, rootKey: a.rootKey }, 'root', 'true');
      assert.equal(cross.code, 255);
    } finally {
      await a.stop();
      await b.stop();
      await a.stop(); // idempotent
    }
    assert.equal(fs.existsSync(a.dir), false);
    assert.equal(fs.existsSync(b.dir), false);
    const gone = await sshRun(a, 'root', 'true');
    assert.equal(gone.code, 255);
  });
});
