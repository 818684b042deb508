// lib/config: config files, environment and flags → Config + RunFlags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { parseCommandLine, usageText, type Command } from '../lib/config/load.js';
import { decodeValue } from '../lib/config/file.js';
import { defaultLogFile, preConfigLogFile, resolveLogFile } from '../lib/config/logfile.js';
import { ALL_KEYS } from '../lib/config/keys.js';
import { ConfigError, type LoadResult } from '../lib/config/types.js';
import { scratchDir } from './support/tree.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function tmpDir(): string {
  return scratchDir('osync-config-test-');
}

const BASE = ['CONFIG_FILE_REVISION=1.3.0', 'INSTANCE_ID=t1', 'INITIATOR_SYNC_DIR=/data/a', 'TARGET_SYNC_DIR=/data/b'];

/** Writes a conf file (BASE lines first unless replaced) and returns its path. */
function conf(lines: string[], opts: { base?: boolean; name?: string; dir?: string } = {}): string {
  const dir = opts.dir ?? tmpDir();
  const file = path.join(dir, opts.name ?? 'task.conf');
  fs.writeFileSync(file, [...(opts.base === false ? [] : BASE), ...lines].join('\n') + '\n');
  return file;
}

function run(argv: string[], env: NodeJS.ProcessEnv = { HOME: '/home/u' }, cwd = '/'): LoadResult {
  const c: Command = parseCommandLine(argv, env, cwd);
  assert.equal(c.kind, 'run');
  if (c.kind !== 'run') throw new Error('unreachable');
  return c;
}

function fails(argv: string[], message: string | RegExp, env: NodeJS.ProcessEnv = { HOME: '/home/u' }, cwd = '/'): void {
  assert.throws(
    () => parseCommandLine(argv, env, cwd),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.equal(e.exitCode, 1);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

const BOGUS_TAIL = 'Correct your config file or update it using the update script if using and old version.';

// ---------------------------------------------------------------- precedence

test('conf file beats the environment, environment fills missing keys, flags beat both', () => {
  const file = conf(['MINIMUM_SPACE=10240', 'INSTANCE_ID=from_file']);
  const env = { HOME: '/h', MINIMUM_SPACE: '999999', BANDWIDTH: '77', INSTANCE_ID: 'from_env' };
  const r = run([file], env);
  assert.equal(r.config.minimumSpace, 10240);
  assert.equal(r.config.bandwidth, 77);
  assert.equal(r.config.instanceId, 'from_file');
  const r2 = run([file, '--instance-id=from_flag', '--initiator-state-dir=/s'], env);
  assert.equal(r2.config.instanceId, 'from_flag');
  assert.equal(r2.config.initiatorCustomStateDir, '/s');
  assert.equal(r2.config.mode, 'conf');
  assert.equal(r2.config.confFile, file);
});

test('keys osync resets at start-up ignore the environment but not the file', () => {
  const env = { HOME: '/h', DESTINATION_MAILS: 'env@x', LOG_CONFLICTS: 'true', PARTIAL: 'true', TARGET_CUSTOM_STATE_DIR: '/e' };
  const r = run([conf([])], env);
  assert.deepEqual(r.config.destinationMails, []);
  assert.equal(r.config.logConflicts, false);
  assert.equal(r.config.partial, false);
  assert.equal(r.config.targetCustomStateDir, '');
  const r2 = run([conf(['DESTINATION_MAILS="a@x b@y"', 'PARTIAL=yes'])], env);
  assert.deepEqual(r2.config.destinationMails, ['a@x', 'b@y']);
  assert.equal(r2.config.partial, true);
  const r3 = run([conf([]), '--destination-mails=c@z d@w'], env);
  assert.deepEqual(r3.config.destinationMails, ['c@z', 'd@w']);
});

test('an empty assignment in the file still hides the environment value', () => {
  const r = run([conf(['LOGFILE='])], { HOME: '/h', LOGFILE: '/env.log' });
  assert.equal(r.config.logFile, '');
  const r2 = run([conf([])], { HOME: '/h', LOGFILE: '/env.log' });
  assert.equal(r2.config.logFile, '/env.log');
});

// ---------------------------------------------------------------- booleans and numbers

test('booleans: yes/no normalised, True rejected with the key named', () => {
  const r = run([conf(['CREATE_DIRS=yes', 'SOFT_DELETE=no', 'PRESERVE_ACL=true'])]);
  assert.equal(r.config.createDirs, true);
  assert.equal(r.config.softDelete, false);
  assert.equal(r.config.preserveAcl, true);
  fails([conf(['CREATE_DIRS=True'])], `Bogus CREATE_DIRS value [True] defined in config file. ${BOGUS_TAIL}`);
  // The environment is validated too when it supplies the key.
  fails([conf([])], /^Bogus SUDO_EXEC value \[1\]/, { HOME: '/h', SUDO_EXEC: '1' });
});

test('validated keys absent from file and environment take the sample values', () => {
  const r = run([conf([])]);
  const c = r.config;
  assert.equal(c.createDirs, true);
  assert.equal(c.rsyncCompress, true);
  assert.equal(c.softDelete, true);
  assert.equal(c.deltaCopies, true);
  assert.equal(c.sshCompression, false);
  assert.equal(c.remoteHostPing, false);
  assert.equal(c.preserveAcl, false);
  assert.equal(c.stopOnCmdError, true);
  assert.equal(c.minimumSpace, 10240);
  assert.equal(c.softMaxExecTime, 7200);
  assert.equal(c.hardMaxExecTime, 10600);
  assert.equal(c.resumeTry, 2);
  assert.equal(c.keepLogging, 1801);
  assert.equal(c.minWait, 60);
  assert.equal(c.maxWait, 7200);
  assert.equal(c.conflictPrevalance, 'initiator');
  assert.equal(c.rsyncExecutable, 'rsync');
  assert.equal(c.rsyncPatternFirst, 'include');
  assert.equal(c.syncType, 'bidirectional');
  assert.deepEqual(c.skipDeletion, []);
  assert.equal(c.smtpPort, 25);
  assert.equal(c.smtpEncryption, 'none');
  assert.deepEqual(r.warnings, []);
});

test('numeric keys: bogus values name the key; decimals and signs run (as in osync) with a warning', () => {
  fails([conf(['SOFT_DELETE_DAYS=abc'])], `Bogus SOFT_DELETE_DAYS value [abc] defined in config file. ${BOGUS_TAIL}`);
  const decimal = run([conf(['SOFT_DELETE_DAYS=1.5'])]);
  assert.equal(decimal.config.softDeleteDays, 1);
  assert.deepEqual(decimal.warnings, ['SOFT_DELETE_DAYS value [1.5] is not a whole number >= 0; using 1.']);
  const negative = run([conf(['BANDWIDTH=-3'])]);
  assert.equal(negative.config.bandwidth, 0);
  assert.deepEqual(negative.warnings, ['BANDWIDTH value [-3] is not a whole number >= 0; using 0.']);
  assert.equal(run([conf(['BANDWIDTH="500"'])]).config.bandwidth, 500);
});

test('KRB5: any non-empty value enables it, as in osync', () => {
  assert.equal(run([conf([])]).config.krb5, false);
  assert.equal(run([conf(['KRB5=false'])]).config.krb5, true);
  assert.equal(run([conf([]), '--krb5']).config.krb5, true);
});

// ---------------------------------------------------------------- revision

test('CONFIG_FILE_REVISION: missing or quoted warns, older fails, newer passes', () => {
  const missing = 'Missing CONFIG_FILE_REVISION. Please provide a valid config file, or run the config update script.';
  const noRev = BASE.slice(1);
  assert.deepEqual(run([conf(noRev, { base: false })]).warnings, [missing]);
  assert.deepEqual(run([conf(['CONFIG_FILE_REVISION="1.3.0"', ...noRev], { base: false })]).warnings, [missing]);
  fails(
    [conf(['CONFIG_FILE_REVISION=1.2.0', ...noRev], { base: false })],
    'Configuration file seems out of date. Required version [1.3.0]. Actual version [1.2.0].',
  );
  assert.deepEqual(run([conf(['CONFIG_FILE_REVISION=1.4.1', ...noRev], { base: false })]).warnings, []);
  assert.deepEqual(run([conf(['CONFIG_FILE_REVISION=1.3', ...noRev], { base: false })]).warnings, []);
});

// ---------------------------------------------------------------- quick-sync

test('quick-sync: defaults, environment, and the conf path is ignored', () => {
  const r = run(['/does/not/exist.conf', '--initiator=/x/a', '--target=/x/b'], { HOME: '/h' });
  const c = r.config;
  assert.equal(c.mode, 'quick');
  assert.equal(c.confFile, undefined);
  assert.equal(c.instanceId, 'quicksync_task');
  assert.equal(c.minimumSpace, 1024);
  assert.equal(c.conflictBackupDays, 30);
  assert.equal(c.softDeleteDays, 30);
  assert.equal(c.resumeTry, 1);
  assert.equal(c.softMaxExecTime, 0);
  assert.equal(c.hardMaxExecTime, 0);
  assert.equal(c.maxExecTimePerCmdBefore, 0);
  assert.equal(c.rsyncCompress, true);
  assert.equal(c.alwaysSendMails, false);
  assert.equal(c.keepLogging, 1801);
  assert.equal(c.minWait, 60);
  assert.equal(c.maxWait, 7200);
  // Unset booleans follow their polarity.
  assert.equal(c.createDirs, false);
  assert.equal(c.softDelete, true);
  assert.equal(c.remoteHostPing, true);
  assert.equal(c.sshCompression, true);
  assert.equal(c.preserveAcl, false);
  assert.equal(c.rsyncPatternFirst, 'include');
  assert.deepEqual(r.warnings, []);
});

test('quick-sync: environment values, unvalidated booleans, non-integer numbers fall back', () => {
  const env = {
    HOME: '/h',
    SOFT_DELETE_DAYS: '60',
    MINIMUM_SPACE: 'huge',
    CREATE_DIRS: 'yes',
    PRESERVE_ACL: 'True',
    SOFT_DELETE: 'maybe',
    LOGFILE: '/tmp/q.log',
    INSTANCE_ID: 'envid',
    RSYNC_PATTERN_FIRST: 'bogus',
  };
  const c = run(['--initiator=/x/a', '--target=/x/b', '--instance-id=flagid'], env).config;
  assert.equal(c.softDeleteDays, 60);
  assert.equal(c.minimumSpace, 1024);
  assert.equal(c.createDirs, true);
  assert.equal(c.preserveAcl, false);
  assert.equal(c.softDelete, true);
  assert.equal(c.logFile, '/tmp/q.log');
  assert.equal(c.instanceId, 'flagid');
  assert.equal(c.rsyncPatternFirst, 'include');
  assert.equal(run(['--initiator=/x/a', '--target=/x/b'], env).config.instanceId, 'envid');
});

test('only --initiator (or a leading option) without a conf path is an argument error', () => {
  fails(['--initiator=/a'], 'Wrong arguments given. Expecting a config file or initiator and target arguments.');
  fails(['--dry'], 'Wrong arguments given. Expecting a config file or initiator and target arguments.');
});

// ---------------------------------------------------------------- v1.0x keys

test('old v1.0x keys are read as their v1.3 names, with a warning', () => {
  const file = conf(
    ['CONFIG_FILE_REVISION=1.3.0', 'SYNC_ID=old', 'MASTER_SYNC_DIR=/m', 'SLAVE_SYNC_DIR=/s', 'CONFLICT_PREVALANCE=slave', 'CREATE_DIRS=no'],
    { base: false },
  );
  const r = run([file]);
  assert.equal(r.config.instanceId, 'old');
  assert.equal(r.config.initiatorSyncDir, '/m');
  assert.equal(r.config.targetSyncDir, '/s');
  assert.equal(r.config.conflictPrevalance, 'target');
  assert.ok(r.warnings.includes('Old osync v1.0x key [MASTER_SYNC_DIR] read as [INITIATOR_SYNC_DIR].'));
  assert.ok(r.warnings.includes('Old osync v1.0x key [SLAVE_SYNC_DIR] read as [TARGET_SYNC_DIR].'));
  assert.ok(r.warnings.includes('Old osync v1.0x key [SYNC_ID] read as [INSTANCE_ID].'));
  assert.ok(r.warnings.includes('Old osync v1.0x value [slave] of CONFLICT_PREVALANCE read as [target].'));
  // The v1.3 key wins when both are present.
  const r2 = run([conf(['MASTER_SYNC_DIR=/m'])]);
  assert.equal(r2.config.initiatorSyncDir, '/data/a');
  assert.deepEqual(r2.warnings, []);
});

// ---------------------------------------------------------------- values and quoting

test('$HOME / ${VAR} expansion against earlier keys then the environment', () => {
  const file = conf([
    'INITIATOR_SYNC_DIR="${HOME}/osync-tests/initiator"',
    'BASE_DIR=/srv/base',
    'TARGET_SYNC_DIR="$BASE_DIR/target"',
    'LOCAL_RUN_BEFORE_CMD="echo ${NOPE:-fallback} [$UNSET_THING] \\$HOME \\"q\\" a\\nb"',
    'LOCAL_RUN_AFTER_CMD=$HOME/unquoted',
  ]);
  const c = run([file], { HOME: '/home/me' }).config;
  assert.equal(c.initiatorSyncDir, '/home/me/osync-tests/initiator');
  assert.equal(c.targetSyncDir, '/srv/base/target');
  assert.equal(c.localRunBeforeCmd, 'echo fallback [] $HOME "q" a\\nb');
  assert.equal(c.localRunAfterCmd, '/home/me/unquoted');
});

test('single-quoted values are literal', () => {
  const c = run([conf(["LOCAL_RUN_AFTER_CMD='echo $HOME ${X} \"q\" $(id)'"])], { HOME: '/home/me' });
  assert.equal(c.config.localRunAfterCmd, 'echo $HOME ${X} "q" $(id)');
  assert.deepEqual(c.warnings, []);
});

test('command substitution is never executed', () => {
  const dir = tmpDir();
  const marker = path.join(dir, 'pwned');
  const file = conf([`LOCAL_RUN_BEFORE_CMD="$(touch ${marker})"`, `REMOTE_RUN_BEFORE_CMD=\`touch ${marker}\``], { dir });
  const r = run([file]);
  assert.equal(fs.existsSync(marker), false);
  assert.equal(r.config.localRunBeforeCmd, `$(touch ${marker})`);
  assert.equal(r.config.remoteRunBeforeCmd, `\`touch ${marker}\``);
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0]!, /not executed/);
});

test('section headers, comments, trailing comments and ignored lines', () => {
  // dotenv itself drops [SECTION] lines and # comments.
  assert.deepEqual(dotenv.parse('[GENERAL]\n# c\nA=1\n'), { A: '1' });
  const file = conf(
    [
      '#!/usr/bin/env bash',
      '[GENERAL]',
      '## a comment with spaces = and equals',
      '#BANDWIDTH=999',
      'CONFIG_FILE_REVISION=1.3.0',
      'INSTANCE_ID="t2" # the id',
      'INITIATOR_SYNC_DIR=/data/a#notacomment',
      'TARGET_SYNC_DIR=\'/data/b\'   # comment',
      '  MINIMUM_SPACE=5', // indented lines are dropped by osync's line filter
      '[MISC_OPTIONS]',
      'KEEP_LOGGING=10',
      'KEEP_LOGGING=20', // last assignment wins
    ],
    { base: false },
  );
  const r = run([file]);
  assert.equal(r.config.instanceId, 't2');
  assert.equal(r.config.initiatorSyncDir, '/data/a#notacomment');
  assert.equal(r.config.targetSyncDir, '/data/b');
  assert.equal(r.config.bandwidth, 0);
  assert.equal(r.config.minimumSpace, 10240);
  assert.equal(r.config.keepLogging, 20);
  assert.deepEqual(r.warnings, []);
});

test('values osync would run as commands are refused with the key named', () => {
  fails([conf(['SMTP_USER=a b'])], /^Cannot read the value of SMTP_USER .*unexpected text \[b\]/);
  fails([conf(['SMTP_USER=a;rm -rf x'])], /SMTP_USER/);
  fails([conf(['SMTP_USER="unterminated'])], /Unterminated " in value of SMTP_USER/);
});

test('.env files: export prefix and indentation accepted', () => {
  const dir = tmpDir();
  const file = conf(['export BANDWIDTH=12', '  KEEP_LOGGING=30'], { dir, name: 'task.env' });
  const c = run([file]).config;
  assert.equal(c.bandwidth, 12);
  assert.equal(c.keepLogging, 30);
});

test('tilde is expanded for the four path keys only', () => {
  const c = run([
    conf([
      "INITIATOR_SYNC_DIR='~/a/'",
      'TARGET_SYNC_DIR=~/b',
      'SSH_RSA_PRIVATE_KEY="~/.ssh/k"',
      'SSH_PASSWORD_FILE=~',
      "LOCAL_RUN_AFTER_CMD='~/x'",
    ]),
  ], { HOME: '/home/me' }).config;
  assert.equal(c.initiatorSyncDir, '/home/me/a');
  assert.equal(c.targetSyncDir, '/home/me/b');
  assert.equal(c.sshRsaPrivateKey, '/home/me/.ssh/k');
  assert.equal(c.sshPasswordFile, '/home/me');
  assert.equal(c.localRunAfterCmd, '~/x');
});

test('decodeValue: bash word rules', () => {
  const look = (n: string) => ({ A: 'x y' } as Record<string, string>)[n];
  assert.equal(decodeValue('"a"\'$A\'$A', look).value, 'a$Ax y');
  assert.equal(decodeValue('a\\ b', look).value, 'a b');
  assert.equal(decodeValue('', look).value, '');
  assert.equal(decodeValue('""', look).value, '');
  assert.equal(decodeValue('$1x', look).value, '$1x');
});

// ---------------------------------------------------------------- patterns

test('patterns split on PATH_SEPARATOR_CHAR; *_FROM resolved beside the conf file', () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'excl.txt'), '*.bak\n');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'incl.txt'), 'keep\n');
  const file = conf(
    [
      'RSYNC_EXCLUDE_PATTERN="tmp;.zfs;*.swp;"',
      'RSYNC_INCLUDE_PATTERN="a|b"',
      'PATH_SEPARATOR_CHAR="|"',
      'RSYNC_EXCLUDE_FROM=excl.txt',
      'RSYNC_INCLUDE_FROM=sub/incl.txt',
      'RSYNC_PATTERN_FIRST=exclude',
    ],
    { dir },
  );
  const c = run([file], { HOME: '/h' }, dir).config;
  assert.deepEqual(c.rsyncExcludePattern, ['tmp;.zfs;*.swp;']);
  assert.deepEqual(c.rsyncIncludePattern, ['a', 'b']);
  assert.equal(c.rsyncExcludeFrom, path.join(dir, 'excl.txt'));
  assert.equal(c.rsyncIncludeFrom, path.join(dir, 'sub', 'incl.txt'));
  assert.equal(c.rsyncPatternFirst, 'exclude');

  const c2 = run([conf(['RSYNC_EXCLUDE_PATTERN="tmp;;x;"', 'RSYNC_EXCLUDE_FROM=missing.txt'], { dir })], { HOME: '/h' }, '/').config;
  assert.deepEqual(c2.rsyncExcludePattern, ['tmp', '', 'x']);
  assert.equal(c2.rsyncExcludeFrom, '');

  // A relative path with a '/' is taken from the current directory, not the conf dir.
  const c3 = run([conf(['RSYNC_INCLUDE_FROM=sub/incl.txt'], { dir })], { HOME: '/h' }, '/').config;
  assert.equal(c3.rsyncIncludeFrom, '');
});

test('bogus RSYNC_PATTERN_FIRST: warning and no user patterns', () => {
  const r = run([conf(['RSYNC_PATTERN_FIRST=both'])]);
  assert.equal(r.config.rsyncPatternFirst, 'none');
  assert.deepEqual(r.warnings, ['Bogus RSYNC_PATTERN_FIRST value in config file. Will not use rsync patterns.']);
});

test('SSH/RSYNC optional args split into words; shell operators refused', () => {
  const c = run([conf([`RSYNC_OPTIONAL_ARGS="--exclude=*.tmp --rsh='ssh -p 2222' -v"`, 'SSH_OPTIONAL_ARGS="-o ConnectTimeout=5"', 'REMOTE_3RD_PARTY_HOSTS="a.example  b.example"'])]).config;
  assert.deepEqual(c.rsyncOptionalArgs, ['--exclude=*.tmp', '--rsh=ssh -p 2222', '-v']);
  assert.deepEqual(c.sshOptionalArgs, ['-o', 'ConnectTimeout=5']);
  assert.deepEqual(c.remote3rdPartyHosts, ['a.example', 'b.example']);
  fails([conf(['RSYNC_OPTIONAL_ARGS="-v; rm -rf /"'])], /^RSYNC_OPTIONAL_ARGS contains shell syntax \[;\]/);
});

// ---------------------------------------------------------------- validation

test('validation messages', () => {
  fails([conf(['TARGET_SYNC_DIR='])], 'Initiator or target path empty.');
  fails([conf(['INSTANCE_ID=""'])], 'No INSTANCE_ID defined in config file.');
  fails([conf(['SYNC_TYPE=both'])], 'Bogus sync type parameter [both].');
  fails([conf(['SKIP_DELETION=foo,bar'])], 'Bogus skip deletion parameter [foo bar].');
  fails([conf(['TARGET_SYNC_DIR=/data/a/'])], 'Initiator and target path [/data/a/] cannot be the same.');
  fails([conf(['INITIATOR_SYNC_DIR=x', 'TARGET_SYNC_DIR=./x'])], 'Initiator and target path [x/] cannot be the same.');
  assert.deepEqual(run([conf(['SKIP_DELETION=target,foo'])]).config.skipDeletion, ['target']);
  assert.deepEqual(run([conf([]), '--skip-deletion=initiator,target']).config.skipDeletion, ['initiator', 'target']);
  assert.equal(run([conf([]), '--sync-type=target2initiator']).config.syncType, 'target2initiator');
});

test('trailing slash removed once; relative paths kept as given', () => {
  const c = run([conf(['INITIATOR_SYNC_DIR=rel/a/', 'TARGET_SYNC_DIR=/'])]).config;
  assert.equal(c.initiatorSyncDir, 'rel/a');
  assert.equal(c.targetSyncDir, '/');
});

test('remote target needs a key, a password file or KRB5', () => {
  const dir = tmpDir();
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
  const uri = 'ssh://me@host:2222//srv/t';
  fails(
    [conf([`TARGET_SYNC_DIR=${uri}`])],
    `Cannot find rsa private key [${home}/.ssh/id_rsa] nor password file [] nor KRB5CCFILE. No authentication method provided.`,
    { HOME: home },
  );
  fs.writeFileSync(path.join(home, '.ssh', 'id_rsa'), 'key');
  const c = run([conf([`TARGET_SYNC_DIR=${uri}`])], { HOME: home }).config;
  assert.equal(c.targetSyncDir, uri);
  assert.equal(c.sshRsaPrivateKey, path.join(home, '.ssh', 'id_rsa'));
  assert.equal(run([conf([`TARGET_SYNC_DIR=${uri}`, 'KRB5=yes'])], { HOME: dir }).config.krb5, true);
});

// ---------------------------------------------------------------- command line

test('no arguments, help and version', () => {
  assert.deepEqual(parseCommandLine([], {}, '/'), { kind: 'usage' });
  assert.deepEqual(parseCommandLine(['--help'], {}, '/'), { kind: 'usage' });
  assert.deepEqual(parseCommandLine(['x.conf', '-h'], {}, '/'), { kind: 'usage' });
  assert.deepEqual(parseCommandLine(['-v'], {}, '/'), { kind: 'version' });
  assert.deepEqual(parseCommandLine(['--version'], {}, '/'), { kind: 'version' });
  assert.match(usageText(), /--initiator=PATH/);
});

test('conf file: missing, wrong extension, path only as first argument', () => {
  const dir = tmpDir();
  fails(['/nope/x.conf'], 'Cannot load configuration file [/nope/x.conf]. Cannot start.');
  const txt = path.join(dir, 'x.txt');
  fs.writeFileSync(txt, 'A=1\n');
  fails([txt], `Wrong configuration file supplied [${txt}], file extension is not .conf, Cannot start.`);
  const file = conf([]);
  fails(['--dry', file], `Unknown option '${file}'`);
  // Relative conf paths are taken from cwd.
  assert.equal(run([path.basename(file)], { HOME: '/h' }, path.dirname(file)).config.confFile, file);
});

test('unknown options and monitor mode', () => {
  const file = conf([]);
  fails([file, '--bogus'], "Unknown option '--bogus'");
  fails([file, '--initiator', '/x'], "Unknown option '--initiator'");
  fails([file, '--dry=1'], "Unknown option '--dry=1'");
  fails(['--bogus', '--initiator=/a', '--target=/b'], "Unknown option '--bogus'");
  assert.equal(run([file, '--on-changes']).flags.onChanges, 'initiator');
  assert.equal(run([file, '--errors-only', '--on-changes-target']).flags.onChanges, 'target');
  assert.equal(run([file]).flags.onChanges, undefined);
});

test('--name=value keeps everything after the first =', () => {
  const c = run(['--initiator=/data/x=y', '--target=/t', '--remote-token=a=b=c']).config;
  assert.equal(c.initiatorSyncDir, '/data/x=y');
  assert.equal(c.remoteToken, 'a=b=c');
});

test('run flags and flag-driven keys', () => {
  const r = run([
    conf(['SOFT_MAX_EXEC_TIME=5', 'RESUME_TRY=4']),
    '--dry', '--silent', '--verbose', '--stats', '--summary', '--errors-only', '--no-prefix',
    '--force-unlock', '--non-interactive', '--initialize', '--no-locks', '--force', '--json',
    '--no-maxtime', '--no-resume', '--alert-conflicts', '--partial', '--ssh-controlmaster',
    '--rsakey=/k', '--password-file=/p', '--target-state-dir=/ts',
  ]);
  assert.deepEqual(r.flags, {
    dry: true, silent: true, verbose: true, stats: true, summary: true, errorsOnly: true,
    noPrefix: true, forceUnlock: true, nonInteractive: true, initialize: true, noLocks: true,
    debug: false, force: true, json: true,
  });
  const c = r.config;
  assert.equal(c.softMaxExecTime, 0);
  assert.equal(c.hardMaxExecTime, 0);
  assert.equal(c.resumeTry, 0);
  assert.equal(c.alertConflicts, true);
  assert.equal(c.logConflicts, true);
  assert.equal(c.partial, true);
  assert.equal(c.sshControlmaster, true);
  assert.equal(c.sshRsaPrivateKey, '/k');
  assert.equal(c.sshPasswordFile, '/p');
  assert.equal(c.targetCustomStateDir, '/ts');
  assert.equal(run([conf([]), '--log-conflicts']).config.alertConflicts, false);
});

test('--no-maxtime does not hide a bogus time value', () => {
  fails([conf(['HARD_MAX_EXEC_TIME=x']), '--no-maxtime'], /^Bogus HARD_MAX_EXEC_TIME value \[x\]/);
});

test('_DEBUG=true (only the literal) enables debug', () => {
  const file = conf([]);
  assert.equal(run([file], { HOME: '/h', _DEBUG: 'true' }).flags.debug, true);
  assert.equal(run([file], { HOME: '/h', _DEBUG: 'yes' }).flags.debug, false);
});

// ---------------------------------------------------------------- shipped files

test('conf/example.env is a complete local task; conf/sample.conf loads cleanly', () => {
  const r = run(['conf/example.env'], { HOME: '/h' }, REPO);
  assert.deepEqual(r.warnings, []);
  assert.equal(r.config.instanceId, 'example');
  assert.equal(r.config.initiatorSyncDir, 'example/initiator');
  assert.equal(r.config.targetSyncDir, 'example/target');
  assert.equal(r.config.logFile, 'example/osync.example.log');
  assert.equal(r.config.rsyncExcludeFrom, path.join(REPO, 'conf', 'patterns.exclude'));
  const envText = fs.readFileSync(path.join(REPO, 'conf/example.env'), 'utf8');
  const sampleText = fs.readFileSync(path.join(REPO, 'conf/sample.conf'), 'utf8');
  for (const key of ALL_KEYS) {
    assert.match(envText, new RegExp(`^${key}=`, 'm'), `example.env lacks ${key}`);
    assert.match(sampleText, new RegExp(`^#?${key}=`, 'm'), `sample.conf lacks ${key}`);
  }
  const s = run(['conf/sample.conf'], { HOME: '/home/me' }, REPO);
  assert.deepEqual(s.warnings, []);
  assert.equal(s.config.initiatorSyncDir, '/home/me/sync/initiator');
});

// ---------------------------------------------------------------- log file

test('log file locations', () => {
  const yes = () => true;
  const no = () => false;
  const onlyHome = (d: string) => d === '/home/u';
  assert.equal(preConfigLogFile({ HOME: '/home/u' }, { writable: yes }), '/var/log/osync.log');
  assert.equal(preConfigLogFile({ HOME: '/home/u' }, { writable: onlyHome }), '/home/u/osync.log');
  assert.equal(preConfigLogFile({}, { writable: (d) => d === '/cwd', cwd: '/cwd' }), './osync.log');
  assert.equal(preConfigLogFile({ HOME: '/home/u' }, { writable: no }), '/tmp/osync.log');
  assert.equal(defaultLogFile('id', { HOME: '/home/u' }, { writable: yes }), '/var/log/osync.id.log');
  assert.equal(defaultLogFile('id', { HOME: '/home/u' }, { writable: onlyHome }), '/home/u/osync.id.log');
  assert.equal(defaultLogFile('', {}, { writable: no }), './osync..log');
  assert.equal(resolveLogFile('/my.log', 'id', {}, { writable: yes }), '/my.log');
  assert.equal(resolveLogFile('', 'id', {}, { writable: yes }), '/var/log/osync.id.log');
  const dir = tmpDir();
  assert.equal(defaultLogFile('id', {}, { varLogDir: dir }), path.join(dir, 'osync.id.log'));
});

// ---------------------------------------------------------------- types

test('tsc reports no errors in lib/config or this test', () => {
  let out = '';
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], { cwd: REPO, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    out = String((e as { stdout?: string }).stdout ?? '');
  }
  const mine = out.split('\n').filter((l) => /^(lib\/config\/|test\/config\.test\.ts)/.test(l));
  assert.deepEqual(mine, []);
});

test('the version printed by --version is package.json\'s', async () => {
  const { VERSION } = await import('../lib/version.js');
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});
