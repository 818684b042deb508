// packaging/osync-ssh-filter (installed as osync-ssh-filter) as the forced command of a
// key on the loopback sshd: osync-ts's syncs and its monitor's watch go through with the
// right token, a wrong token and anything else are refused, and --no-sudo refuses sudo.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { explain, makeConf, REPO_ROOT, runOsync } from './support/osync.js';
import { startMonitor, waitUntil } from './support/monitor.js';
import { runProgram, sshdClientArgs, sshdUri, startSshd, type TestSshd } from './support/sshd.js';
import { readTree, scratchDir, writeTree } from './support/tree.js';

const FILTER = path.join(REPO_ROOT, 'packaging', 'osync-ssh-filter');
const TOKEN = 'Filter_Token.9';
let sshd: TestSshd;
let key: string;
let noSudoKey: string;

async function keyWithCommand(dir: string, name: string, command: string): Promise<string> {
  const file = path.join(dir, name);
  assert.equal((await runProgram('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file])).code, 0);
  const line = `command="${command}",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${fs.readFileSync(`${file}.pub`, 'utf8').trim()}\n`;
  fs.appendFileSync(path.join(sshd.dir, 'authorized_keys', sshd.user), line);
  return file;
}

before(async () => {
  sshd = await startSshd();
  const dir = scratchDir('osync-ts-filter-keys-');
  fs.chmodSync(dir, 0o755);
  // The filter as installed (a copy the login user can read; sh runs it whatever the mount options).
  const filter = path.join(dir, 'osync-ssh-filter');
  fs.copyFileSync(FILTER, filter);
  fs.chmodSync(filter, 0o755);
  key = await keyWithCommand(dir, 'id_filter', `/bin/sh ${filter} ${TOKEN}`);
  noSudoKey = await keyWithCommand(dir, 'id_nosudo', `/bin/sh ${filter} ${TOKEN} --no-sudo`);
});
after(async () => {
  await sshd?.stop();
});

function pair() {
  const root = scratchDir('osync-ts-filter-');
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  fs.chmodSync(root, 0o755);
  fs.chmodSync(b, 0o777);
  return { root, a, b };
}

function sync(a: string, b: string, k: string, token: string, env: Record<string, string> = {}) {
  return runOsync([`--initiator=${a}`, `--target=${sshdUri(sshd, sshd.user, b)}`, `--rsakey=${k}`, `--remote-token=${token}`], {
    SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '),
    ...env,
  });
}

test('the right token syncs (with sudo), a wrong one is refused with one CRITICAL line', async () => {
  const { a, b } = pair();
  writeTree(a, { 'f': 'x', 'd/g': 'y' });
  const bad = await sync(a, b, key, 'Wrong_Token');
  assert.equal(bad.code, 1, explain(bad));
  assert.match(bad.log, /\(CRITICAL\):Cannot connect to remote system .*: osync-ssh-filter: command refused \(wrong or missing token\)\./);
  assert.deepEqual(readTree(b), {});
  const ok = await sync(a, b, key, TOKEN, { SUDO_EXEC: 'true' });
  assert.equal(ok.code, 0, explain(ok));
  assert.deepEqual(readTree(b), readTree(a));
  // Anything that is not an osync command: refused.
  const other = await runProgram('ssh', [...sshdClientArgs(sshd), '-i', key, '-p', String(sshd.port), `${sshd.user}@127.0.0.1`, 'id']);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /osync-ssh-filter: command refused \(wrong or missing token\)\./);
  // The token somewhere else than at the start does not count.
  const later = await runProgram('ssh', [...sshdClientArgs(sshd), '-i', key, '-p', String(sshd.port), `${sshd.user}@127.0.0.1`, `id; env _REMOTE_TOKEN=${TOKEN} true`]);
  assert.equal(later.code, 1);
});

test('--no-sudo: a task with SUDO_EXEC is refused, one without syncs', async () => {
  const { a, b } = pair();
  writeTree(a, { 'f': 'x' });
  // The login user's own target, as without sudo it must be.
  const id = async (flag: string) => Number((await runProgram('id', [flag, sshd.user])).stdout.trim());
  fs.chownSync(b, await id('-u'), await id('-g'));
  const withSudo = await sync(a, b, noSudoKey, TOKEN, { SUDO_EXEC: 'true' });
  assert.equal(withSudo.code, 1, explain(withSudo));
  assert.match(withSudo.log, /osync-ssh-filter: command refused \(sudo not allowed\)\./);
  assert.deepEqual(readTree(b), {});
  // Without sudo the login user cannot give files away: owners are not kept.
  const plain = await sync(a, b, noSudoKey, TOKEN, { PRESERVE_OWNER: 'false' });
  assert.equal(plain.code, 0, explain(plain));
  assert.deepEqual(readTree(b), { f: 'x' }, explain(plain));
});

test("the monitor's watch on the target goes through the filter too", async () => {
  const { root, a, b } = pair();
  const conf = makeConf(root, {
    INSTANCE_ID: 'filtered', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: sshdUri(sshd, sshd.user, b), SSH_RSA_PRIVATE_KEY: key,
    _REMOTE_TOKEN: TOKEN, SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' '), MIN_WAIT: '1', MAX_WAIT: '600',
  });
  const m = startMonitor([conf, '--on-changes'], {}, path.join(root, 'osync.log'));
  try {
    await m.settled();
    fs.writeFileSync(path.join(b, 'on-target'), 't');
    await waitUntil(() => `the target's change:\n${m.log()}`, () => fs.existsSync(path.join(a, 'on-target')), 60_000);
    assert.doesNotMatch(m.log(), /timeout reached|The watch on the target replica stopped/);
  } finally {
    const r = await m.stop();
    assert.equal(r.code, 0, explain(r));
  }
});
