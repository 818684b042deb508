// Unit tests of lib/proc/ssh.ts, plus proofs with a real `sh -c` (and rsync's
// own -e splitter) that the quoting is literal and cannot inject commands.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  parseSshUri,
  sshArgv,
  rsyncRemoteShell,
  remoteCommand,
  rsyncPath,
  rsyncShellWord,
  rsyncHostSpec,
  sshDestination,
  setsSshOption,
  assertSafeToken,
  type SshOptions,
  type SshTarget,
} from '../lib/proc/ssh.js';

const baseOpts: SshOptions = {
  privateKey: '',
  passwordFile: '',
  krb5: false,
  compression: false,
  ignoreKnownHosts: false,
  optionalArgs: [],
};
const tgt: SshTarget = { user: 'root', host: 'localhost', port: 2222, path: '/tmp/x' };

describe('parseSshUri: the forms of §2.6', () => {
  const cases: Array<[string, SshTarget]> = [
    ['ssh://root@localhost:2222//tmp/x', { user: 'root', host: 'localhost', port: 2222, path: '/tmp/x' }],
    ['ssh://localhost//tmp/x', { user: 'me', host: 'localhost', port: 22, path: '/tmp/x' }],
    ['ssh://root@host/tmp/x', { user: 'root', host: 'host', port: 22, path: 'tmp/x' }],
    ['ssh://host/rel', { user: 'me', host: 'host', port: 22, path: 'rel' }],
    ['ssh://backup@10.0.0.5:22//srv/data/', { user: 'backup', host: '10.0.0.5', port: 22, path: '/srv/data/' }],
    ['ssh://u@my-host.example.org:65535//a b/c', { user: 'u', host: 'my-host.example.org', port: 65535, path: '/a b/c' }],
    ['ssh://root@h//', { user: 'root', host: 'h', port: 22, path: '/' }],
    ['ssh://h://p', { user: 'me', host: 'h', port: 22, path: '/p' }],
  ];
  for (const [uri, want] of cases) {
    test(uri, () => assert.deepEqual(parseSshUri(uri, 'me'), want));
  }
});

describe('parseSshUri: fixed and improved cases', () => {
  test("'@' in the path does not corrupt the user (osync bug)", () => {
    assert.deepEqual(parseSshUri('ssh://root@h:2222//tmp/p@q', 'me'), { user: 'root', host: 'h', port: 2222, path: '/tmp/p@q' });
    assert.deepEqual(parseSshUri('ssh://h:2222//tmp/p@q', 'me'), { user: 'me', host: 'h', port: 2222, path: '/tmp/p@q' });
    assert.deepEqual(parseSshUri('ssh://h/a@b@c', 'me'), { user: 'me', host: 'h', port: 22, path: 'a@b@c' });
  });
  test('user names containing @ (the host never does)', () => {
    assert.deepEqual(parseSshUri('ssh://john@corp@h//p', 'me'), { user: 'john@corp', host: 'h', port: 22, path: '/p' });
  });
  test('IPv6 in brackets', () => {
    assert.deepEqual(parseSshUri('ssh://u@[::1]:22//p', 'me'), { user: 'u', host: '::1', port: 22, path: '/p' });
    assert.deepEqual(parseSshUri('ssh://[fe80::1%eth0]//p', 'me'), { user: 'me', host: 'fe80::1%eth0', port: 22, path: '/p' });
    assert.deepEqual(parseSshUri('ssh://u@[2001:db8::42]:2200/rel', 'me'), { user: 'u', host: '2001:db8::42', port: 2200, path: 'rel' });
  });
  test('sshDestination / rsyncHostSpec bracket IPv6 only for rsync', () => {
    const t = parseSshUri('ssh://u@[::1]:22//p', 'me');
    assert.equal(sshDestination(t), 'u@::1');
    assert.equal(rsyncHostSpec(t), 'u@[::1]');
    assert.equal(rsyncHostSpec(tgt), 'root@localhost');
  });
});

describe('parseSshUri: malformed URIs throw one clear line', () => {
  const bad: Array<[string, RegExp]> = [
    ['/local/path', /does not start with ssh:\/\//],
    ['ssh://root@host:2222', /no path/],
    ['ssh://host', /no path/],
    ['ssh://host/', /empty path/],
    ['ssh:///tmp/x', /no host/],
    ['ssh://root@//tmp/x', /no host/],
    ['ssh://root@:22//tmp/x', /no host/],
    ['ssh://@host//p', /empty user/],
    ['ssh://h:abc//p', /bad port/],
    ['ssh://h:0//p', /out of range/],
    ['ssh://h:70000//p', /out of range/],
    ['ssh://h:-1//p', /bad port/],
    ['ssh://h:22:33//p', /more than one colon/],
    ['ssh://::1//p', /more than one colon/],
    ['ssh://[::1//p', /missing \]/],
    ['ssh://[::1]x//p', /unexpected text/],
    ['ssh://[zz]//p', /bad IPv6/],
    ['ssh://-oProxyCommand=touch_x//p', /bad host/],
    ['ssh://-oProxyCommand=x@h//p', /bad user/],
    ['ssh://a b@h//p', /bad user/],
    ['ssh://u:secret@h//p', /no host|bad/],
    ['ssh://h;ls//p', /bad host/],
  ];
  for (const [uri, re] of bad) {
    test(JSON.stringify(uri), () => {
      assert.throws(() => parseSshUri(uri, 'me'), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      });
    });
  }
  test('no local user and none in the URI', () => {
    assert.throws(() => parseSshUri('ssh://h//p', ''), /user name/);
  });
});

describe('sshArgv', () => {
  test('key auth (osync order, BatchMode and ConnectTimeout added)', () => {
    assert.deepEqual(sshArgv({ ...baseOpts, privateKey: '/k/id' }, tgt), [
      'ssh', '-o', 'Compression=no', '-o', 'LogLevel=ERROR', '-i', '/k/id',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
      '-p', '2222', 'root@localhost',
    ]);
  });
  test('password file => sshpass, no BatchMode', () => {
    const argv = sshArgv({ ...baseOpts, passwordFile: '/p w' }, tgt);
    assert.deepEqual(argv.slice(0, 4), ['sshpass', '-f', '/p w', 'ssh']);
    assert.ok(!argv.includes('BatchMode=yes'));
    assert.ok(!argv.includes('-i'));
  });
  test('key wins over password file', () => {
    const argv = sshArgv({ ...baseOpts, privateKey: '/k', passwordFile: '/p' }, tgt);
    assert.equal(argv[0], 'ssh');
    assert.ok(argv.includes('BatchMode=yes'));
  });
  test('krb5: no -i, BatchMode', () => {
    const argv = sshArgv({ ...baseOpts, krb5: true }, tgt);
    assert.ok(!argv.includes('-i'));
    assert.ok(argv.includes('BatchMode=yes'));
  });
  test('compression, known hosts, control master, optional args', () => {
    const argv = sshArgv({
      ...baseOpts,
      privateKey: '/k',
      compression: true,
      ignoreKnownHosts: true,
      controlPath: '/run/d/osync.ctrlm.%r@%h.1.2',
      optionalArgs: ['-o', 'ConnectTimeout=3', '-v'],
    }, tgt);
    assert.deepEqual(argv, [
      'ssh', '-C', '-o', 'LogLevel=ERROR', '-i', '/k',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no',
      '-o', 'ControlMaster=auto', '-o', 'ControlPersist=yes', '-o', 'ControlPath=/run/d/osync.ctrlm.%r@%h.1.2',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=3', '-v',
      '-p', '2222', 'root@localhost',
    ]);
  });
  test('ConnectTimeout detection forms', () => {
    assert.ok(setsSshOption(['-oConnectTimeout=5'], 'ConnectTimeout'));
    assert.ok(setsSshOption(['-o', 'connecttimeout 5'], 'ConnectTimeout'));
    assert.ok(!setsSshOption(['-o', 'ConnectionAttempts=5'], 'ConnectTimeout'));
    assert.ok(!setsSshOption(['ConnectTimeout=5'], 'ConnectTimeout'));
  });
  test('refuses targets that would be read as options', () => {
    assert.throws(() => sshArgv(baseOpts, { ...tgt, host: '-oProxyCommand=x' }), /host/);
    assert.throws(() => sshArgv(baseOpts, { ...tgt, user: '-x' }), /user/);
    assert.throws(() => sshArgv(baseOpts, { ...tgt, port: 0 }), /port/);
  });
});

describe('rsyncRemoteShell', () => {
  test('osync shape: host-less, port last', () => {
    assert.equal(
      rsyncRemoteShell({ ...baseOpts, privateKey: '/tmp/osync-sshd/id_ed25519' }, tgt),
      'ssh -o Compression=no -o LogLevel=ERROR -i /tmp/osync-sshd/id_ed25519 -o BatchMode=yes -o ConnectTimeout=10 -p 2222',
    );
  });
  test('sshpass and quoted paths', () => {
    assert.equal(
      rsyncRemoteShell({ ...baseOpts, passwordFile: "/my dir/it's" }, tgt),
      `sshpass -f "/my dir/it's" ssh -o Compression=no -o LogLevel=ERROR -o ConnectTimeout=10 -p 2222`,
    );
    assert.equal(
      rsyncRemoteShell({ ...baseOpts, passwordFile: `/it's "$x"` }, tgt),
      `sshpass -f '/it'"'"'s "$x"' ssh -o Compression=no -o LogLevel=ERROR -o ConnectTimeout=10 -p 2222`,
    );
    assert.equal(
      rsyncRemoteShell({ ...baseOpts, privateKey: '/a b/k', controlPath: '/r/c.%r@%h' }, tgt),
      "ssh -o Compression=no -o LogLevel=ERROR -i '/a b/k' -o ControlMaster=auto -o ControlPersist=yes -o ControlPath=/r/c.%r@%h -o BatchMode=yes -o ConnectTimeout=10 -p 2222",
    );
  });
  test('word forms never contain a backslash outside single quotes', () => {
    assert.equal(rsyncShellWord('Compression=no'), 'Compression=no');
    assert.equal(rsyncShellWord('a b'), "'a b'");
    assert.equal(rsyncShellWord("it's"), `"it's"`);
    assert.equal(rsyncShellWord('$x'), `'$x'`);
    assert.equal(rsyncShellWord(''), "''");
    assert.equal(rsyncShellWord('FOO=bar', true), "'FOO=bar'");
  });
});

describe('remoteCommand and rsyncPath', () => {
  test('starts with the token exactly like osync, then LC_ALL, then sudo', () => {
    assert.equal(remoteCommand(['bash', '-s'], 'SecretTok42', false), 'env _REMOTE_TOKEN=SecretTok42 env LC_ALL=C bash -s');
    assert.equal(remoteCommand(['bash', '-s'], 'SecretTok42', true), 'env _REMOTE_TOKEN=SecretTok42 env LC_ALL=C sudo -n bash -s');
    assert.ok(remoteCommand(['x'], 't', false).startsWith('env _REMOTE_TOKEN=t '));
  });
  test('empty token is still sent', () => {
    assert.equal(remoteCommand(['id', '-un'], '', false), 'env _REMOTE_TOKEN= env LC_ALL=C id -un');
  });
  test('words are quoted', () => {
    assert.equal(remoteCommand(['ls', '-la', '/a b', '$HOME'], 'T', false), "env _REMOTE_TOKEN=T env LC_ALL=C ls -la '/a b' \\$HOME");
  });
  test('unsafe tokens and empty commands are refused', () => {
    for (const t of ['a b', 'a;b', '$(x)', 'a`b`', "a'b", 'a\nb', 'a"b', 'a|b']) {
      assert.throws(() => remoteCommand(['x'], t, false), /remote token .* may only contain/);
      assert.throws(() => rsyncPath('', 'rsync', t, false), /remote token .* may only contain/);
    }
    assert.doesNotThrow(() => assertSafeToken('Some-Alpha.Numeric_Token9'));
    assert.throws(() => remoteCommand([], 'T', false), /no command/);
  });
  test('rsyncPath forms', () => {
    assert.equal(rsyncPath('', 'rsync', 'T', false), 'env _REMOTE_TOKEN=T env LC_ALL=C rsync');
    assert.equal(rsyncPath('', 'rsync', 'T', true), 'env _REMOTE_TOKEN=T env LC_ALL=C sudo -n rsync');
    assert.equal(rsyncPath('/usr/local/bin', 'rsync', 'T', false), 'env _REMOTE_TOKEN=T env LC_ALL=C /usr/local/bin/rsync');
    assert.equal(rsyncPath('/usr/local/bin/', 'rsync', 'T', true), 'env _REMOTE_TOKEN=T env LC_ALL=C sudo -n /usr/local/bin/rsync');
    assert.equal(rsyncPath('/opt/my tools', 'rsync', 'T', false), "env _REMOTE_TOKEN=T env LC_ALL=C '/opt/my tools/rsync'");
    assert.equal(rsyncPath('', '', 'T', false), 'env _REMOTE_TOKEN=T env LC_ALL=C rsync');
  });
});

// ---------------------------------------------------------------------------
// Proofs with real parsers.

let tmp = '';
let marker = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'osync-ssh-test-'));
  marker = path.join(tmp, 'PWNED');
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function nastyWords(): string[] {
  const m = marker;
  return [
    'a b', "it's", 'say "hi"', '$HOME', '${IFS}', '$((1+1))', `$(touch ${m})`, `\`touch ${m}\``,
    `; touch ${m}`, `| touch ${m}`, `&& touch ${m}`, `\ntouch ${m}\n`, `'; touch ${m}; '`, `"; touch ${m}; "`,
    'a\nb', 'line1\r\nline2', '\t', '-rf', '--help', '-', '--', '*', '?', '[abc]', '{a,b}', '~', '~root',
    'a\\b', '\\', "'", '"', '', '!', "it's!", '!!', '#comment', 'x=y', 'é ünïcödé', '%s', "'\"$`\\",
    'a\u00a0b', '  leading and trailing  ', '>out', '<in', '2>&1', '(sub)', '\x01\x7f',
  ];
}

/** Runs `sh -c <script>` and returns stdout (utf8). */
function sh(script: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync('sh', ['-c', script], { encoding: 'utf8', env, cwd: tmp });
}

function splitNul(out: string): string[] {
  assert.ok(out.endsWith('\0') || out === '', 'NUL-terminated output');
  return out === '' ? [] : out.slice(0, -1).split('\0');
}

describe('quoting proved with a real sh -c', () => {
  test('remoteCommand words round-trip literally and run nothing', () => {
    const words = nastyWords();
    const cmd = remoteCommand(['printf', '%s\\0', ...words], 'Tok_1', false);
    assert.deepEqual(splitNul(sh(cmd)), words);
    assert.equal(fs.existsSync(marker), false, 'no command was injected');
  });
  test('the remote environment sees the token and LC_ALL=C', () => {
    const cmd = remoteCommand(['sh', '-c', 'printf "%s|%s" "$_REMOTE_TOKEN" "$LC_ALL"'], 'Tok_1', false);
    assert.equal(sh(cmd, { PATH: process.env.PATH }), 'Tok_1|C');
  });
  test('one word at a time, including leading dashes', () => {
    for (const w of nastyWords()) {
      assert.deepEqual(splitNul(sh(remoteCommand(['printf', '%s\\0', w], 'T', false))), [w], `quote(${JSON.stringify(w)})`);
      assert.deepEqual(splitNul(sh(`printf '%s\\0' ${rsyncShellWord(w)}`)), [w], `rsyncShellWord(${JSON.stringify(w)})`);
    }
    assert.equal(fs.existsSync(marker), false);
  });
  test('rsyncPath program path with specials is one literal word', () => {
    const dir = path.join(tmp, "bin dir $x `y` 'q'");
    fs.mkdirSync(dir, { recursive: true });
    const prog = path.join(dir, 'fake rsync');
    fs.writeFileSync(prog, '#!/bin/sh\nprintf "%s\\0" "$_REMOTE_TOKEN" "$@"\n', { mode: 0o755 });
    const rp = rsyncPath(dir, 'fake rsync', 'T0k', false);
    // rsync appends its server arguments to --rsync-path and hands the whole line to the remote shell.
    assert.deepEqual(splitNul(sh(`${rp} --server -x .`)), ['T0k', '--server', '-x', '.']);
  });
  test('property: any string round-trips through remoteCommand and rsyncShellWord', () => {
    const noNul = fc.string({ unit: 'binary', maxLength: 24 }).map((s) => s.replace(/\0/g, '').replace(/[\ud800-\udfff]/g, ''));
    const special = fc.constantFrom(...nastyWords());
    const word = fc.oneof(noNul, special, fc.array(special, { maxLength: 4 }).map((a) => a.join('')));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 5 }), (words) => {
        const out = sh(remoteCommand(['printf', '%s\\0', ...words], 'T', false));
        assert.deepEqual(splitNul(out), words);
        const out2 = sh(`printf '%s\\0' ${words.map((w) => rsyncShellWord(w)).join(' ')}`);
        assert.deepEqual(splitNul(out2), words);
      }),
      { numRuns: 150 },
    );
    assert.equal(fs.existsSync(marker), false);
  });
});

describe('rsyncRemoteShell proved with rsync itself and with sh', () => {
  test('rsync and sh split the -e string into the same argv', () => {
    const bin = path.join(tmp, 'fakebin');
    fs.mkdirSync(bin, { recursive: true });
    const out = path.join(tmp, 'argv.out');
    // A fake `ssh` that records its argv and fails (rsync then gives up).
    fs.writeFileSync(path.join(bin, 'ssh'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done > "$ARGV_OUT"\nexit 1\n', { mode: 0o755 });
    const opts: SshOptions = {
      ...baseOpts,
      privateKey: path.join(tmp, "my key $HOME `id` it's \"q\" \\"),
      controlPath: '/run/x/osync.ctrlm.%r@%h.1.2',
      optionalArgs: ['-o', 'ServerAliveInterval=5', '-o', 'SetEnv=A="b c"', '-o', `ProxyCommand=none; touch ${marker}`],
    };
    const e = rsyncRemoteShell(opts, tgt);
    const expected = [...sshArgv(opts, tgt).slice(1, -1)]; // without 'ssh' and the destination
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, ARGV_OUT: out };

    const r = spawnSync('rsync', ['-e', e, '--list-only', 'h:/x'], { env, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    const viaRsync = splitNul(fs.readFileSync(out, 'utf8'));
    // rsync appends the host and its own remote command after our words.
    assert.deepEqual(viaRsync.slice(0, expected.length), expected);
    assert.equal(viaRsync[expected.length], 'h');

    fs.rmSync(out);
    spawnSync('sh', ['-c', `${e} h true`], { env, encoding: 'utf8' });
    const viaSh = splitNul(fs.readFileSync(out, 'utf8'));
    assert.deepEqual(viaSh, [...expected, 'h', 'true']);
    assert.equal(fs.existsSync(marker), false);
  });
});
