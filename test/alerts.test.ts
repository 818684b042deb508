// Mail alerts (osync §10) through the real command line and a real SMTP receiver
// on loopback (test/support/smtp.ts), or a stand-in `sendmail` program on PATH.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closedPort, startSmtp, TEST_CERT, type TestSmtp } from './support/smtp.js';
import { scratchDir } from './support/tree.js';
import { binArgv } from './support/osync.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TO = ['ops@example.org', 'backup-admin@example.net'];

interface Result {
  code: number | null;
  log: string;
  stdout: string;
  stderr: string;
}

function runConf(dir: string, keys: Record<string, string>, args: string[] = [], env: Record<string, string> = {}): Promise<Result> {
  const logFile = path.join(dir, `run-${randomBytes(4).toString('hex')}.log`);
  const conf = path.join(dir, 'task.conf');
  const lines = ['CONFIG_FILE_REVISION=1.3.0', `LOGFILE=${logFile}`, ...Object.entries(keys).map(([k, v]) => `${k}='${v}'`)];
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = binArgv();
    const child = spawn(cmd, [...pre, conf, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, log: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '' }));
  });
}

function setup(): { dir: string; a: string; b: string } {
  const dir = scratchDir('osync-alerts-');
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  fs.writeFileSync(path.join(a, 'one.txt'), 'one\n');
  return { dir, a, b };
}

function keys(id: string, a: string, b: string, extra: Record<string, string>): Record<string, string> {
  return {
    INSTANCE_ID: id,
    INITIATOR_SYNC_DIR: a,
    TARGET_SYNC_DIR: b,
    DESTINATION_MAILS: TO.join(' '),
    SENDER_MAIL: 'osync@example.com',
    SMTP_SERVER: '127.0.0.1',
    SMTP_ENCRYPTION: 'none',
    // SMTP first whatever this machine's local mailers (osync's way, auto, is tested below).
    MAIL_TRANSPORT: 'smtp',
    ...extra,
  };
}

/** A bin dir of stand-in mailers: each records its arguments (one per line) and stdin in
 *  <dir>/<name>.got, then exits with the given code. */
function standIns(dir: string, mailers: Record<string, number>): { bin: string; got: (name: string) => string | null } {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, code] of Object.entries(mailers)) {
    const out = path.join(dir, `${name}.got`);
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nfor a; do echo "ARG: $a"; done > ${out}\ncat >> ${out}\nexit ${code}\n`, { mode: 0o755 });
  }
  const got = (name: string) => (fs.existsSync(path.join(dir, `${name}.got`)) ? fs.readFileSync(path.join(dir, `${name}.got`), 'utf8') : null);
  return { bin, got };
}

/** The [ALERT_OPTIONS] of osync's own sync.conf.example (v1.3), placeholder server included. */
const OSYNC_SAMPLE_ALERTS = {
  DESTINATION_MAILS: 'your@alert.tld',
  ALWAYS_SEND_MAILS: 'false',
  MAIL_BODY_CHARSET: '',
  SENDER_MAIL: 'alert@your.system.tld',
  SMTP_SERVER: 'smtp.your.isp.tld',
  SMTP_PORT: '25',
  SMTP_ENCRYPTION: 'none',
  SMTP_USER: '',
  SMTP_PASSWORD: '',
};
const systemSendmail = () => fs.existsSync('/usr/sbin/sendmail') || fs.existsSync('/usr/lib/sendmail');

describe('mail alerts over SMTP', () => {
  let smtp: TestSmtp;
  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp?.stop();
  });

  test('a run with warnings sends one Warning alert with this run’s log to every recipient', async () => {
    smtp.messages.length = 0;
    const { dir, a, b } = setup();
    // A remote hook with a local target only warns.
    const r = await runConf(dir, keys('warn_task', a, b, { SMTP_PORT: String(smtp.port), REMOTE_RUN_BEFORE_CMD: 'true' }));
    assert.equal(r.code, 2, r.log);
    const [m, ...rest] = await smtp.waitFor(1);
    assert.equal(rest.length, 0);
    assert.equal(m!.subject, 'Finished run - Warning alert for warn_task');
    assert.deepEqual(m!.to, TO);
    assert.equal(m!.from, 'osync@example.com');
    assert.equal(m!.headers.get('to'), TO.join(', '));
    const body = m!.body.split('\n');
    assert.match(body[0]!, /^Execution of osync instance warn_task on \w{3} \w{3} +\d+ \d\d:\d\d:\d\d \S+ \d{4} has warnings\.$/);
    assert.equal(body[2], 'Last 1000 lines of current log');
    assert.ok(body.some((l) => l.includes('(WARN):Ignoring remote command [true] because remote host is not configured.')), m!.body);
    assert.ok(body.some((l) => l.endsWith('(WARN):osync finished with warnings.')), m!.body);
    assert.match(r.log, /Sent mail using SMTP server \[127\.0\.0\.1:\d+\]\./);
  });

  test('only this run’s lines are in the body, not earlier runs of the same log file', async () => {
    smtp.messages.length = 0;
    const { dir, a, b } = setup();
    const logFile = path.join(dir, 'shared.log');
    fs.writeFileSync(logFile, 'TIME: 0 - (ERROR):an old line from a previous run\n');
    const r = await runConf(dir, keys('only_this', a, b, { SMTP_PORT: String(smtp.port), LOGFILE: logFile, ALWAYS_SEND_MAILS: 'true' }));
    assert.equal(r.code, 0, r.log);
    const [m] = await smtp.waitFor(1);
    assert.equal(m!.subject, 'Finished run - Alert for only_this');
    assert.doesNotMatch(m!.body, /an old line/);
    assert.match(m!.body, /osync finished\./);
  });

  test('a failed run sends an Error alert; a clean run sends nothing unless ALWAYS_SEND_MAILS', async () => {
    smtp.messages.length = 0;
    let { dir, a, b } = setup();
    let r = await runConf(dir, keys('err_task', a, b, { SMTP_PORT: String(smtp.port), LOCAL_RUN_BEFORE_CMD: 'false', STOP_ON_CMD_ERROR: 'true' }));
    assert.equal(r.code, 1, r.log);
    const [m] = await smtp.waitFor(1);
    assert.equal(m!.subject, 'Finished run - Error alert for err_task');
    assert.match(m!.body.split('\n')[0]!, /^Execution of osync instance err_task on .* has errors\.$/);
    assert.match(m!.body, /\(CRITICAL\):Stopping on command execution error\./);

    smtp.messages.length = 0;
    ({ dir, a, b } = setup());
    r = await runConf(dir, keys('clean_task', a, b, { SMTP_PORT: String(smtp.port) }));
    assert.equal(r.code, 0, r.log);
    // The mail is sent before the process exits: nothing now means nothing at all.
    assert.equal(smtp.messages.length, 0);
    assert.doesNotMatch(r.log, /Sent mail/);
  });

  test('a soft time limit sends a "Currently running" warning mail during the run, then the final one', async () => {
    smtp.messages.length = 0;
    const { dir, a, b } = setup();
    fs.writeFileSync(path.join(a, 'big.bin'), randomBytes(150_000));
    const r = await runConf(dir, keys('slow_task', a, b, { SMTP_PORT: String(smtp.port), BANDWIDTH: '50', SOFT_MAX_EXEC_TIME: '1' }));
    assert.equal(r.code, 2, r.log);
    const mails = await smtp.waitFor(2);
    assert.deepEqual(
      mails.map((m) => m.subject),
      ['Currently running - Warning alert for slow_task', 'Finished run - Warning alert for slow_task'],
    );
    assert.match(mails[0]!.body, /Max soft execution time \[1\] exceeded/);
  });

  test('ALERT_CONFLICTS sends the conflict list in its own mail', async () => {
    smtp.messages.length = 0;
    const { dir, a, b } = setup();
    const k = keys('conflict_task', a, b, { SMTP_PORT: String(smtp.port), ALERT_CONFLICTS: 'true' });
    let r = await runConf(dir, k);
    assert.equal(r.code, 0, r.log);
    assert.equal(smtp.messages.length, 0);
    // Change the same file on both sides.
    fs.writeFileSync(path.join(a, 'one.txt'), 'changed on initiator\n');
    fs.writeFileSync(path.join(b, 'one.txt'), 'changed on target, longer\n');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(a, 'one.txt'), later, later);
    r = await runConf(dir, k);
    assert.equal(r.code, 0, r.log);
    const mails = await smtp.waitFor(1);
    const c = mails.find((m) => m.subject === 'Conflictual files found in [conflict_task]');
    assert.ok(c, mails.map((m) => m.subject).join('\n'));
    assert.deepEqual(c.to, TO);
    assert.equal(c.body, 'Truncated list of conflictual files:\none.txt\n');
  });

  test('MAIL_BODY_CHARSET: body encoded in ISO-8859-1; an unknown charset falls back to UTF-8 with a WARN', async () => {
    smtp.messages.length = 0;
    const { dir, a, b } = setup();
    const k = keys('charset_task', a, b, { SMTP_PORT: String(smtp.port), ALWAYS_SEND_MAILS: 'true', LOCAL_RUN_BEFORE_CMD: 'echo café-crème' });
    let r = await runConf(dir, { ...k, MAIL_BODY_CHARSET: 'ISO-8859-1' }, ['--verbose']);
    assert.equal(r.code, 0, r.log);
    let [m] = await smtp.waitFor(1);
    assert.equal(m!.charset, 'ISO-8859-1');
    assert.match(m!.body, /^café-crème$/m);
    assert.ok(m!.raw.toString('latin1').includes('caf=E9-cr=E8me'), 'body is not Latin-1 on the wire');

    smtp.messages.length = 0;
    r = await runConf(dir, { ...k, MAIL_BODY_CHARSET: 'X-NO-SUCH-CHARSET' }, ['--verbose']);
    assert.equal(r.code, 0, r.log); // mail-time warnings do not change the exit code
    assert.match(r.log, /\(WARN\):Cannot encode mail body in charset \[X-NO-SUCH-CHARSET\], sending it as UTF-8\./);
    [m] = await smtp.waitFor(1);
    assert.equal(m!.charset.toLowerCase(), 'utf-8');
    assert.match(m!.body, /^café-crème$/m);
  });
});

describe('mail alerts over TLS (SMTP_ENCRYPTION)', () => {
  // The receiver's certificate is self-signed: trusted only when the run is given it as a
  // CA (NODE_EXTRA_CA_CERTS), as a cron host trusts its mail relay through the system CAs.
  const trusted = { NODE_EXTRA_CA_CERTS: TEST_CERT };

  test('tls: STARTTLS, then AUTH and the mail inside the encrypted session', async () => {
    const smtp = await startSmtp({ tls: 'starttls', user: 'mailer', password: 'pw-tls' });
    try {
      const { dir, a, b } = setup();
      const r = await runConf(dir, keys('tls_task', a, b, { SMTP_PORT: String(smtp.port), SMTP_ENCRYPTION: 'tls', SMTP_USER: 'mailer', SMTP_PASSWORD: 'pw-tls', ALWAYS_SEND_MAILS: 'true' }), [], trusted);
      assert.equal(r.code, 0, r.log);
      const [m] = await smtp.waitFor(1);
      assert.equal(m!.secure, true);
      assert.equal(m!.authUser, 'mailer');
      assert.equal(m!.subject, 'Finished run - Alert for tls_task');
      assert.match(r.log, /Sent mail using SMTP server \[127\.0\.0\.1:\d+\]\./);
    } finally {
      await smtp.stop();
    }
  });

  test('ssl: implicit TLS from the first byte', async () => {
    const smtp = await startSmtp({ tls: 'implicit' });
    try {
      const { dir, a, b } = setup();
      const r = await runConf(dir, keys('ssl_task', a, b, { SMTP_PORT: String(smtp.port), SMTP_ENCRYPTION: 'ssl', ALWAYS_SEND_MAILS: 'true' }), [], trusted);
      assert.equal(r.code, 0, r.log);
      const [m] = await smtp.waitFor(1);
      assert.equal(m!.secure, true);
      assert.equal(m!.subject, 'Finished run - Alert for ssl_task');
    } finally {
      await smtp.stop();
    }
  });

  test('an untrusted certificate, or a server without STARTTLS, gets no mail: ERROR, exit code unchanged', async () => {
    const tlsServer = await startSmtp({ tls: 'starttls' });
    const plainServer = await startSmtp();
    try {
      const { dir, a, b } = setup();
      let r = await runConf(dir, keys('untrusted', a, b, { SMTP_PORT: String(tlsServer.port), SMTP_ENCRYPTION: 'tls', ALWAYS_SEND_MAILS: 'true' }));
      assert.equal(r.code, 0, r.log);
      assert.match(r.log, /\(ERROR\):Cannot send mail using SMTP server \[127\.0\.0\.1:\d+\]: .*self[- ]signed certificate/);
      // tls never falls back to sending in clear.
      r = await runConf(dir, keys('no_starttls', a, b, { SMTP_PORT: String(plainServer.port), SMTP_ENCRYPTION: 'tls', ALWAYS_SEND_MAILS: 'true' }), [], trusted);
      assert.equal(r.code, 0, r.log);
      assert.match(r.log, /\(ERROR\):Cannot send mail using SMTP server \[127\.0\.0\.1:\d+\]: .*STARTTLS/);
      assert.equal(tlsServer.messages.length, 0);
      assert.equal(plainServer.messages.length, 0);
    } finally {
      await tlsServer.stop();
      await plainServer.stop();
    }
  });
});

describe('mail failures and authentication', () => {
  test('SMTP_USER/SMTP_PASSWORD authenticate; the password never reaches the log, even when login fails', async () => {
    const password = `s3cret-${randomBytes(6).toString('hex')}`;
    const smtp = await startSmtp({ user: 'mailer', password });
    try {
      const { dir, a, b } = setup();
      const base = keys('auth_task', a, b, { SMTP_PORT: String(smtp.port), SMTP_USER: 'mailer', ALWAYS_SEND_MAILS: 'true' });
      let r = await runConf(dir, { ...base, SMTP_PASSWORD: password }, ['--verbose']);
      assert.equal(r.code, 0, r.log);
      const [m] = await smtp.waitFor(1);
      assert.equal(m!.authUser, 'mailer');
      for (const text of [r.log, r.stdout, r.stderr, m!.body]) assert.ok(!text.includes(password));

      const wrong = `wr0ng-${randomBytes(6).toString('hex')}`;
      r = await runConf(dir, { ...base, SMTP_PASSWORD: wrong }, ['--verbose']);
      assert.equal(r.code, 0, r.log);
      assert.match(r.log, /\(ERROR\):Cannot send mail using SMTP server \[127\.0\.0\.1:\d+\]: .*Invalid/);
      for (const text of [r.log, r.stdout, r.stderr]) assert.ok(!text.includes(wrong));
      assert.equal(smtp.messages.length, 1);
    } finally {
      await smtp.stop();
    }
  });

  test('a one-letter SMTP password: the log is not rewritten (masking that letter everywhere showed which it was)', async () => {
    const smtp = await startSmtp({ user: 'mailer', password: 'e' });
    try {
      const { dir, a, b } = setup();
      const base = keys('short_pw', a, b, { SMTP_PORT: String(smtp.port), SMTP_USER: 'mailer', ALWAYS_SEND_MAILS: 'true' });
      let r = await runConf(dir, { ...base, SMTP_PASSWORD: 'e' }, ['--verbose']);
      assert.equal(r.code, 0, r.log);
      await smtp.waitFor(1);
      assert.match(r.log, /\nTIME: \d+ - osync finished\.\n/);
      assert.match(r.log, /Sent mail using SMTP server/);
      for (const text of [r.log, r.stdout, r.stderr]) assert.doesNotMatch(text, /__o_O__/);
      // A wrong one-letter password: the failure is named, nothing masked, the password not there as a word.
      r = await runConf(dir, { ...base, SMTP_PASSWORD: 'x' });
      assert.match(r.log, /\(ERROR\):Cannot send mail using SMTP server \[127\.0\.0\.1:\d+\]: .*Invalid/);
      assert.doesNotMatch(r.log, /__o_O__|(^|\W)x(\W|$)/m);
    } finally {
      await smtp.stop();
    }
  });

  test('an unreachable SMTP server is an ERROR in the log but the run keeps its own exit code', async () => {
    const { dir, a, b } = setup();
    const port = await closedPort();
    let r = await runConf(dir, keys('down_task', a, b, { SMTP_PORT: String(port), REMOTE_RUN_BEFORE_CMD: 'true' }));
    assert.equal(r.code, 2, r.log);
    assert.match(r.log, new RegExp(`\\(ERROR\\):Cannot send mail using SMTP server \\[127\\.0\\.0\\.1:${port}\\]: .*ECONNREFUSED`));
    // The final line was written before the mail; it still says warnings.
    assert.match(r.log, /\(WARN\):osync finished with warnings\.\n.*Cannot send mail/);

    r = await runConf(dir, keys('down_task', a, b, { SMTP_PORT: String(port), ALWAYS_SEND_MAILS: 'true' }));
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /\(ERROR\):Cannot send mail using SMTP server/);
  });

  test('without SMTP_SERVER the local sendmail -t gets the whole message', async () => {
    const { dir, a, b } = setup();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const got = path.join(dir, 'sendmail.got');
    fs.writeFileSync(path.join(bin, 'sendmail'), `#!/bin/sh\necho "ARGS: $*" > ${got}\ncat >> ${got}\n`, { mode: 0o755 });
    const r = await runConf(dir, keys('sm_task', a, b, { SMTP_SERVER: '', ALWAYS_SEND_MAILS: 'true' }), [], { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /Sent mail using sendmail command\./);
    const text = fs.readFileSync(got, 'utf8');
    assert.match(text, /^ARGS: -t -i -f osync@example\.com\n/);
    assert.match(text, /^To: ops@example\.org, backup-admin@example\.net$/m);
    assert.match(text, /^Subject: Finished run - Alert for sm_task$/m);
    assert.match(text, /Execution of osync instance sm_task on /);
  });

  test('no SMTP_SERVER and no sendmail: mail -s gets the subject, the recipients and the body', async (t) => {
    if (fs.existsSync('/usr/sbin/sendmail') || fs.existsSync('/usr/lib/sendmail')) return t.skip('this machine has a system sendmail');
    const { dir, a, b } = setup();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const got = path.join(dir, 'mail.got');
    // A PATH of its own: no sendmail on it, whatever the machine has.
    fs.writeFileSync(path.join(bin, 'mail'), `#!/bin/sh\nfor a; do echo "ARG: $a"; done > ${got}\ncat >> ${got}\n`, { mode: 0o755 });
    const pathEnv = [bin, ...(process.env.PATH ?? '').split(':').filter((d) => !['sendmail'].some((p) => fs.existsSync(path.join(d, p))))].join(':');
    const r = await runConf(dir, keys('mail_task', a, b, { SMTP_SERVER: '', ALWAYS_SEND_MAILS: 'true' }), [], { PATH: pathEnv });
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /Sent mail using mail command\./);
    const text = fs.readFileSync(got, 'utf8');
    assert.match(text, /^ARG: -s\nARG: Finished run - Alert for mail_task\nARG: ops@example\.org\nARG: backup-admin@example\.net\n/);
    assert.match(text, /\nExecution of osync instance mail_task on /);
  });

  test('no SMTP_SERVER and no sendmail or mail: ERROR, exit code unchanged', async (t) => {
    const { dir, a, b } = setup();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    // A PATH with only what a sync needs: no sendmail, no mail.
    for (const p of ['sh', 'rsync', 'df', 'mkdir', 'rm', 'find', 'stat', 'cat', 'mv', 'id', 'test', 'touch', 'ls', 'env']) {
      const found = (process.env.PATH ?? '').split(':').map((d) => path.join(d, p)).find((f) => fs.existsSync(f));
      if (found) fs.symlinkSync(found, path.join(bin, p));
    }
    if (fs.existsSync('/usr/sbin/sendmail') || fs.existsSync('/usr/lib/sendmail')) return t.skip('this machine has a system sendmail');
    const r = await runConf(dir, keys('none_task', a, b, { SMTP_SERVER: '', REMOTE_RUN_BEFORE_CMD: 'true' }), [], { PATH: bin });
    assert.equal(r.code, 2, r.log);
    assert.match(r.log, /\(ERROR\):Cannot send mail \(neither mutt, mail nor sendmail could be found, and SMTP_SERVER is not set\)\./);
  });
});

describe('mail transport as osync on Linux: local mailer first', () => {
  test("osync's sample config (SMTP_SERVER=smtp.your.isp.tld): the alert goes through the local sendmail, the placeholder server is never tried", async () => {
    const { dir, a, b } = setup();
    const { bin, got } = standIns(dir, { sendmail: 0 });
    const r = await runConf(dir, { INSTANCE_ID: 'sample_task', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b, ...OSYNC_SAMPLE_ALERTS, REMOTE_RUN_BEFORE_CMD: 'true' }, [], { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 2, r.log);
    assert.match(r.log, /Sent mail using sendmail command\./);
    assert.doesNotMatch(r.log, /smtp\.your\.isp\.tld|ENOTFOUND|Cannot send mail/);
    const text = got('sendmail')!;
    assert.match(text, /^ARG: -t\nARG: -i\nARG: -f\nARG: alert@your\.system\.tld\n/);
    assert.match(text, /^To: your@alert\.tld$/m);
    assert.match(text, /^Subject: Finished run - Warning alert for sample_task$/m);
  });

  test('mutt, then mail, then sendmail, as osync: the first that exits 0 sends, the others are not run', async () => {
    const { dir, a, b } = setup();
    const all = standIns(dir, { mutt: 0, mail: 0, sendmail: 0 });
    let r = await runConf(dir, { ...keys('order_task', a, b, { ALWAYS_SEND_MAILS: 'true' }), MAIL_TRANSPORT: '' }, [], { PATH: `${all.bin}:${process.env.PATH}` });
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /Sent mail using mutt\./);
    assert.match(all.got('mutt')!, /^ARG: -x\nARG: -s\nARG: Finished run - Alert for order_task\nARG: ops@example\.org,backup-admin@example\.net\nExecution of osync instance order_task on /);
    assert.equal(all.got('mail'), null);
    assert.equal(all.got('sendmail'), null);

    // mutt fails: a warning, then mail sends (one argument per recipient).
    const d2 = setup();
    const next = standIns(d2.dir, { mutt: 1, mail: 0, sendmail: 0 });
    r = await runConf(d2.dir, { ...keys('order_task', d2.a, d2.b, { ALWAYS_SEND_MAILS: 'true' }), MAIL_TRANSPORT: '' }, [], { PATH: `${next.bin}:${process.env.PATH}` });
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /\(WARN\):Cannot send mail using mutt \[.*\/bin\/mutt\]: exit code \[1\]\. Trying mail \[/);
    assert.match(r.log, /Sent mail using mail command\./);
    assert.match(next.got('mail')!, /^ARG: -s\nARG: Finished run - Alert for order_task\nARG: ops@example\.org\nARG: backup-admin@example\.net\n/);
    assert.equal(next.got('sendmail'), null);
  });

  test('no local mailer: SMTP_SERVER is used', async (t) => {
    if (systemSendmail()) return t.skip('this machine has a system sendmail');
    const smtp = await startSmtp();
    try {
      const { dir, a, b } = setup();
      const none = standIns(dir, {});
      const pathEnv = [none.bin, ...(process.env.PATH ?? '').split(':').filter((d) => !['mutt', 'mail', 'sendmail'].some((p) => fs.existsSync(path.join(d, p))))].join(':');
      const r = await runConf(dir, { ...keys('auto_task', a, b, { SMTP_PORT: String(smtp.port), ALWAYS_SEND_MAILS: 'true' }), MAIL_TRANSPORT: '' }, [], { PATH: pathEnv });
      assert.equal(r.code, 0, r.log);
      const [m] = await smtp.waitFor(1);
      assert.equal(m!.subject, 'Finished run - Alert for auto_task');
    } finally {
      await smtp.stop();
    }
  });

  test('MAIL_TRANSPORT=smtp: SMTP_SERVER first; when it fails, the local sendmail before giving up', async () => {
    const smtp = await startSmtp();
    try {
      const { dir, a, b } = setup();
      const { bin, got } = standIns(dir, { sendmail: 0 });
      const env = { PATH: `${bin}:${process.env.PATH}` };
      let r = await runConf(dir, keys('smtp_first', a, b, { SMTP_PORT: String(smtp.port), ALWAYS_SEND_MAILS: 'true' }), [], env);
      assert.equal(r.code, 0, r.log);
      const [m] = await smtp.waitFor(1);
      assert.equal(m!.subject, 'Finished run - Alert for smtp_first');
      assert.equal(got('sendmail'), null);

      const port = await closedPort();
      r = await runConf(dir, keys('smtp_down', a, b, { SMTP_PORT: String(port), ALWAYS_SEND_MAILS: 'true' }), [], env);
      assert.equal(r.code, 0, r.log);
      assert.match(r.log, new RegExp(`\\(WARN\\):Cannot send mail using SMTP server \\[127\\.0\\.0\\.1:${port}\\]: .*ECONNREFUSED.* Trying sendmail \\[`));
      assert.match(r.log, /Sent mail using sendmail command\./);
      assert.doesNotMatch(r.log, /\(ERROR\)/);
      assert.match(got('sendmail')!, /^Subject: Finished run - Alert for smtp_down$/m);
    } finally {
      await smtp.stop();
    }
  });

  test('MAIL_TRANSPORT other than auto or smtp: one CRITICAL line, exit 1', async () => {
    const { dir, a, b } = setup();
    const r = await runConf(dir, keys('bad_transport', a, b, { MAIL_TRANSPORT: 'pigeon' }));
    assert.equal(r.code, 1, r.stderr);
    // Before the config is read, lines go to the screen and osync's default log.
    assert.match(r.stderr, /Bogus MAIL_TRANSPORT value \[pigeon\] defined in config file\./);
    assert.equal(fs.existsSync(path.join(b, 'one.txt')), false);
  });
});
