// From argv + environment (+ config file) to a validated Config and RunFlags.
//
// Precedence, as osync (§1.4):
//   conf mode:  flags > conf file > environment > defaults
//   quick-sync: flags > environment > quick-sync defaults
// Keys osync resets at start-up (RESET_KEYS) never come from the environment.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { parse as shellParse } from 'shell-quote';
import { assertSafeToken, parseSshUri } from '../proc/ssh.js';
import { parseArgs, type ParsedArgs } from './args.js';
import { rawRevision, parseConfText, type ConfFile } from './file.js';
import {
  ALL_KEYS,
  BOOLEAN_KEYS,
  EMPTY_NUMBER_DEFAULTS,
  IGNORED_KEYS,
  NUMERIC_KEYS,
  OLD_KEY_ALIASES,
  ON_UNLESS_FALSE,
  QUICK_NUMBERS,
  REQUIRED_REVISION,
  RESET_KEYS,
  SAMPLE_BOOLEANS,
  SAMPLE_NUMBERS,
  type BooleanKey,
  type NumericKey,
} from './keys.js';
import { ConfigError, type Config, type LoadResult, type Side, type SyncType } from './types.js';

export { ConfigError } from './types.js';
export type { Config, LoadResult, RunFlags } from './types.js';

export type Command =
  | { kind: 'usage' }
  | { kind: 'version' }
  | ({ kind: 'run' } & LoadResult);

const WRONG_ARGS = 'Wrong arguments given. Expecting a config file or initiator and target arguments.';
export const MISSING_REVISION =
  'Missing CONFIG_FILE_REVISION. Please provide a valid config file, or run the config update script.';

/**
 * Parses the command line, reads the config file (conf mode) and settles the
 * configuration. `argv` excludes node and the script. Throws ConfigError on any
 * problem (message as osync logs it as CRITICAL; exitCode 1).
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Command {
  if (argv.length === 0) return { kind: 'usage' };
  const args = parseArgs(argv, env);
  if (args.early) return { kind: args.early };

  if (args.quick) {
    // A config path given as first argument is ignored in quick-sync mode, as in osync.
    const built = buildConfig({ mode: 'quick', fileValues: {}, env, args, cwd });
    return { kind: 'run', config: built.config, flags: args.flags, warnings: built.warnings };
  }
  if (args.confPath === undefined) throw new ConfigError(WRONG_ARGS, 1);

  const file = loadConfFile(args.confPath, env, cwd);
  const built = buildConfig({
    mode: 'conf',
    confFile: file.path,
    fileValues: file.values,
    env,
    args,
    cwd,
  });
  return {
    kind: 'run',
    config: built.config,
    flags: args.flags,
    warnings: [...file.warnings, ...built.warnings],
  };
}

export interface LoadedFile {
  /** Absolute path. */
  path: string;
  /** v1.3 key → value (old v1.0x names already mapped). */
  values: Record<string, string>;
  warnings: string[];
}

/**
 * Checks, revision-checks and decodes a config file (.conf, or .env with the same keys).
 * `given` is the path as typed (used in messages), resolved against cwd.
 */
export function loadConfFile(given: string, env: NodeJS.ProcessEnv, cwd: string): LoadedFile {
  const abs = path.resolve(cwd, given);
  let isFile = false;
  try {
    isFile = fs.statSync(abs).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new ConfigError(`Cannot load configuration file [${given}]. Cannot start.`, 1);
  if (!/\.(conf|env)$/.test(given)) {
    throw new ConfigError(
      `Wrong configuration file supplied [${given}], file extension is not .conf, Cannot start.`,
      1,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot load configuration file [${given}]. Cannot start.`, 1);
  }

  const warnings: string[] = [];
  const revision = checkRevision(rawRevision(text));
  if (revision) warnings.push(revision);

  const parsed = parseConfText(text, env, { dotenvStyle: abs.endsWith('.env'), source: given });
  warnings.push(...parsed.warnings);
  warnings.push(...unknownKeys(text, parsed, given));
  const values = { ...parsed.values };
  for (const [oldKey, newKey] of Object.entries(OLD_KEY_ALIASES)) {
    if (oldKey in values && !(newKey in values)) {
      values[newKey] = values[oldKey]!;
      warnings.push(`Old osync v1.0x key [${oldKey}] read as [${newKey}].`);
    }
  }
  return { path: abs, values, warnings };
}

/**
 * A warning for each key of the file that neither osync nor osync-ts knows (osync
 * ignores them silently, so a typo silently falls back to a default), with its line and
 * the closest known key. A name the file itself uses as a variable ($NAME, ${NAME}) is
 * a helper, not a typo.
 */
function unknownKeys(text: string, parsed: ConfFile, given: string): string[] {
  const known = (k: string) => (ALL_KEYS as readonly string[]).includes(k) || k in OLD_KEY_ALIASES || IGNORED_KEYS.has(k);
  const out: string[] = [];
  for (const key of parsed.order) {
    if (known(key) || new RegExp(`\\$\\{?${key}(?![A-Za-z0-9_])`).test(text)) continue;
    const near = closestKey(key);
    out.push(`Unknown key [${key}] in ${given} line ${parsed.lines[key]}: ignored.${near ? ` Did you mean ${near}?` : ''}`);
  }
  return out;
}

/** The known key nearest to `key` in edit distance (a letter added, dropped, changed or
 *  two swapped), when near enough to be a typo of it. */
export function closestKey(key: string): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of ALL_KEYS) {
    const d = editDistance(key.toUpperCase(), k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(1, Math.min(3, Math.floor(key.length / 5))) ? best : null;
}

/** Damerau-Levenshtein distance (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * §2.2: returns the warning for a missing/unreadable revision, throws when the file is
 * older than 1.3.0, returns undefined when fine. `raw` is the literal text after the
 * last '=' of the first CONFIG_FILE_REVISION= line.
 */
export function checkRevision(raw: string | undefined): string | undefined {
  const major = raw?.split('.')[0];
  if (raw === undefined || major === undefined || !/^[-+]?[0-9]+$/.test(major)) {
    return MISSING_REVISION;
  }
  if (compareVersions(raw, REQUIRED_REVISION) < 0) {
    throw new ConfigError(
      `Configuration file seems out of date. Required version [${REQUIRED_REVISION}]. Actual version [${raw}].`,
      1,
    );
  }
  return undefined;
}

/** Dot-separated integer comparison, missing components = 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = parseInt(pa[i] ?? '0', 10) || 0;
    const y = parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export interface BuildInput {
  mode: 'conf' | 'quick';
  confFile?: string;
  /** Values read from the config file (conf mode). */
  fileValues: Record<string, string>;
  env: NodeJS.ProcessEnv;
  args: Pick<ParsedArgs, 'overrides' | 'noMaxtime'>;
  cwd: string;
}

/** Merges the layers, applies defaults and validates. Throws ConfigError. */
export function buildConfig(input: BuildInput): { config: Config; warnings: string[] } {
  const { mode, env, cwd } = input;
  const quick = mode === 'quick';
  const warnings: string[] = [];

  const raw: Record<string, string> = {};
  for (const key of ALL_KEYS) {
    const v = env[key];
    if (v !== undefined && !RESET_KEYS.has(key)) raw[key] = v;
  }
  if (!quick) {
    for (const key of ALL_KEYS) {
      const v = input.fileValues[key];
      if (v !== undefined) raw[key] = v;
    }
  }
  Object.assign(raw, input.args.overrides);
  const get = (key: string): string => raw[key] ?? '';
  const home = env['HOME'] ?? '';

  // --- paths (osync's Init) ---
  const initiatorRaw = get('INITIATOR_SYNC_DIR');
  const targetRaw = get('TARGET_SYNC_DIR');
  if (initiatorRaw === '' || targetRaw === '') {
    throw new ConfigError('Initiator or target path empty.', 1);
  }
  const initiatorSyncDir = stripOneSlash(expandTilde(initiatorRaw, home));
  const targetSyncDir = stripOneSlash(expandTilde(targetRaw, home));

  // --- patterns ---
  const sep = get('PATH_SEPARATOR_CHAR') || ';';
  const firstRaw = get('RSYNC_PATTERN_FIRST');
  let rsyncPatternFirst: Config['rsyncPatternFirst'];
  if (firstRaw === 'exclude') rsyncPatternFirst = 'exclude';
  else if (firstRaw === 'include' || quick || firstRaw === '') rsyncPatternFirst = 'include';
  else {
    warnings.push('Bogus RSYNC_PATTERN_FIRST value in config file. Will not use rsync patterns.');
    rsyncPatternFirst = 'none';
  }
  const confDir = input.confFile ? path.dirname(input.confFile) : cwd;

  // --- booleans (§2.3) ---
  const bools = {} as Record<BooleanKey, boolean>;
  for (const key of BOOLEAN_KEYS) {
    let v = get(key);
    if (v === 'yes') v = 'true';
    else if (v === 'no') v = 'false';
    if (v === '') {
      if (!quick) v = String(SAMPLE_BOOLEANS[key]);
      else if (key === 'RSYNC_COMPRESS') v = 'true';
    } else if (!quick && v !== 'true' && v !== 'false') {
      throw bogus(key, v);
    }
    bools[key] = ON_UNLESS_FALSE.has(key) ? v !== 'false' : v === 'true';
  }

  // --- numbers ---
  const nums = {} as Record<NumericKey, number>;
  for (const key of NUMERIC_KEYS) {
    const v = get(key);
    const isInt = /^[0-9]+$/.test(v);
    if (quick) {
      const qd = QUICK_NUMBERS[key];
      if (isInt) nums[key] = Number(v);
      else if (qd !== undefined) nums[key] = qd;
      else if (v === '') nums[key] = EMPTY_NUMBER_DEFAULTS[key] ?? 0;
      else if (key === 'MIN_WAIT') nums[key] = 30; // osync's quick-sync fallback
      else throw bogus(key, v, 'environment');
    } else {
      // osync accepts a sign and one decimal point here (`-3`, `1.5`) and then
      // misbehaves silently; osync-ts accepts them too (a conf that ran keeps running)
      // but says what it uses: the whole part, at least 0.
      if (v === '') nums[key] = SAMPLE_NUMBERS[key];
      else if (isInt) nums[key] = Number(v);
      else if (/^[-+]?[0-9]*\.?[0-9]+$/.test(v)) {
        nums[key] = Math.max(0, Math.floor(Number(v)));
        warnings.push(`${key} value [${v}] is not a whole number >= 0; using ${nums[key]}.`);
      } else throw bogus(key, v);
    }
  }

  // --- osync's CheckCurrentConfigAll ---
  const instanceId = get('INSTANCE_ID') || (quick ? 'quicksync_task' : '');
  if (instanceId === '') throw new ConfigError('No INSTANCE_ID defined in config file.', 1);
  // It names the state files, the default log file and the lock's content.
  if (/[/\x00-\x1f\x7f]/.test(instanceId)) {
    throw new ConfigError(`Bad INSTANCE_ID [${JSON.stringify(instanceId).slice(1, -1)}]: it names this task's state and log files, so it may not contain "/" or control characters.`, 1);
  }
  if (targetSyncDir.startsWith('ssh://')) {
    try {
      parseSshUri(targetSyncDir, localUserName());
    } catch (e) {
      throw new ConfigError((e as Error).message, 1);
    }
    // (Sent with every remote command; unused with a local target.)
    try {
      assertSafeToken(get('_REMOTE_TOKEN'));
    } catch (e) {
      throw new ConfigError(`Bad _REMOTE_TOKEN: ${(e as Error).message}`, 1);
    }
  }

  let sshRsaPrivateKey = expandTilde(get('SSH_RSA_PRIVATE_KEY'), home);
  const sshPasswordFile = expandTilde(get('SSH_PASSWORD_FILE'), home);
  const krb5 = get('KRB5') !== ''; // any non-empty value, even "false", as in osync
  const remote = targetSyncDir.startsWith('ssh://') || initiatorSyncDir.startsWith('ssh://');
  if (remote) {
    if (sshRsaPrivateKey === '' && !isFile(sshPasswordFile, cwd)) {
      sshRsaPrivateKey = path.join(home, '.ssh', 'id_rsa');
    }
    if (!isFile(sshRsaPrivateKey, cwd) && !isFile(sshPasswordFile, cwd) && !krb5) {
      throw new ConfigError(
        `Cannot find rsa private key [${sshRsaPrivateKey}] nor password file [${sshPasswordFile}] nor KRB5CCFILE. No authentication method provided.`,
        1,
      );
    }
  }

  const skipRaw = get('SKIP_DELETION');
  const skipDeletion: Side[] = [];
  if (skipRaw !== '') {
    const parts = skipRaw.split(',');
    for (const side of ['initiator', 'target'] as const) if (parts.includes(side)) skipDeletion.push(side);
    if (skipDeletion.length === 0) {
      throw new ConfigError(`Bogus skip deletion parameter [${parts.join(' ')}].`, 1);
    }
  }

  const syncTypeRaw = get('SYNC_TYPE');
  let syncType: SyncType = 'bidirectional';
  if (syncTypeRaw === 'initiator2target' || syncTypeRaw === 'target2initiator') syncType = syncTypeRaw;
  else if (syncTypeRaw !== '') throw new ConfigError(`Bogus sync type parameter [${syncTypeRaw}].`, 1);

  // osync compares the two strings; we compare the resolved paths, which also catches
  // `a` vs `./a` (still no symlink resolution).
  if (!targetSyncDir.startsWith('ssh://') && !initiatorSyncDir.startsWith('ssh://')) {
    if (path.resolve(cwd, initiatorSyncDir) === path.resolve(cwd, targetSyncDir)) {
      throw new ConfigError(
        `Initiator and target path [${initiatorSyncDir.replace(/\/?$/, '/')}] cannot be the same.`,
        1,
      );
    }
  }

  // --- strings with meaning ---
  const prevRaw = get('CONFLICT_PREVALANCE');
  let conflictPrevalance: Side = prevRaw === 'target' ? 'target' : 'initiator';
  if (prevRaw === 'master' || prevRaw === 'slave') {
    conflictPrevalance = prevRaw === 'slave' ? 'target' : 'initiator';
    warnings.push(`Old osync v1.0x value [${prevRaw}] of CONFLICT_PREVALANCE read as [${conflictPrevalance}].`);
  }

  const encRaw = get('SMTP_ENCRYPTION').toLowerCase();
  let smtpEncryption: Config['smtpEncryption'] = 'none';
  if (encRaw === 'tls' || encRaw === 'ssl') smtpEncryption = encRaw;
  else if (encRaw !== '' && encRaw !== 'none') {
    warnings.push(`Bogus SMTP_ENCRYPTION value [${get('SMTP_ENCRYPTION')}], using none.`);
  }
  // osync-ts only; off unless true/yes.
  const besideRaw = get('CONFLICT_COPY_BESIDE');
  if (!['', 'true', 'false', 'yes', 'no'].includes(besideRaw)) throw bogus('CONFLICT_COPY_BESIDE', besideRaw, quick ? 'environment' : 'config file');
  const transportRaw = get('MAIL_TRANSPORT').toLowerCase();
  if (!['', 'auto', 'smtp'].includes(transportRaw)) throw bogus('MAIL_TRANSPORT', get('MAIL_TRANSPORT'), quick ? 'environment' : 'config file');
  const portRaw = get('SMTP_PORT');
  if (portRaw !== '' && !/^[0-9]+$/.test(portRaw)) throw bogus('SMTP_PORT', portRaw, quick ? 'environment' : 'config file');

  const config: Config = {
    mode,
    ...(input.confFile ? { confFile: input.confFile } : {}),
    instanceId,
    initiatorSyncDir,
    targetSyncDir,
    sshRsaPrivateKey,
    sshPasswordFile,
    krb5,
    remoteToken: get('_REMOTE_TOKEN'),
    createDirs: bools.CREATE_DIRS,
    logFile: get('LOGFILE'),
    minimumSpace: nums.MINIMUM_SPACE,
    bandwidth: nums.BANDWIDTH,
    sudoExec: bools.SUDO_EXEC,
    rsyncExecutable: get('RSYNC_EXECUTABLE') || 'rsync',
    rsyncRemotePath: get('RSYNC_REMOTE_PATH'),
    rsyncPatternFirst,
    rsyncIncludePattern: splitPatterns(get('RSYNC_INCLUDE_PATTERN'), sep),
    rsyncExcludePattern: splitPatterns(get('RSYNC_EXCLUDE_PATTERN'), sep),
    rsyncIncludeFrom: resolvePatternFile(get('RSYNC_INCLUDE_FROM'), confDir, cwd),
    rsyncExcludeFrom: resolvePatternFile(get('RSYNC_EXCLUDE_FROM'), confDir, cwd),
    initiatorCustomStateDir: get('INITIATOR_CUSTOM_STATE_DIR'),
    targetCustomStateDir: get('TARGET_CUSTOM_STATE_DIR'),

    sshCompression: bools.SSH_COMPRESSION,
    sshOptionalArgs: splitWords('SSH_OPTIONAL_ARGS', get('SSH_OPTIONAL_ARGS')),
    sshIgnoreKnownHosts: bools.SSH_IGNORE_KNOWN_HOSTS,
    sshControlmaster: bools.SSH_CONTROLMASTER,
    remoteHostPing: bools.REMOTE_HOST_PING,
    remote3rdPartyHosts: splitSpaces(get('REMOTE_3RD_PARTY_HOSTS')),

    rsyncOptionalArgs: splitWords('RSYNC_OPTIONAL_ARGS', get('RSYNC_OPTIONAL_ARGS')),
    preservePermissions: bools.PRESERVE_PERMISSIONS,
    preserveOwner: bools.PRESERVE_OWNER,
    preserveGroup: bools.PRESERVE_GROUP,
    preserveExecutability: bools.PRESERVE_EXECUTABILITY,
    preserveAcl: bools.PRESERVE_ACL,
    preserveXattr: bools.PRESERVE_XATTR,
    copySymlinks: bools.COPY_SYMLINKS,
    keepDirlinks: bools.KEEP_DIRLINKS,
    preserveHardlinks: bools.PRESERVE_HARDLINKS,
    checksum: bools.CHECKSUM,
    rsyncCompress: bools.RSYNC_COMPRESS,
    softMaxExecTime: input.args.noMaxtime ? 0 : nums.SOFT_MAX_EXEC_TIME,
    hardMaxExecTime: input.args.noMaxtime ? 0 : nums.HARD_MAX_EXEC_TIME,
    keepLogging: nums.KEEP_LOGGING,
    minWait: nums.MIN_WAIT,
    maxWait: nums.MAX_WAIT,

    logConflicts: get('LOG_CONFLICTS') === 'true',
    alertConflicts: get('ALERT_CONFLICTS') === 'true',
    conflictBackup: bools.CONFLICT_BACKUP,
    conflictBackupMultiple: bools.CONFLICT_BACKUP_MULTIPLE,
    conflictCopyBeside: besideRaw === 'true' || besideRaw === 'yes',
    conflictBackupDays: nums.CONFLICT_BACKUP_DAYS,
    conflictPrevalance,
    softDelete: bools.SOFT_DELETE,
    softDeleteDays: nums.SOFT_DELETE_DAYS,
    skipDeletion,
    syncType,
    maxDeletePercent: nums.MAX_DELETE_PERCENT,
    maxDeleteCount: nums.MAX_DELETE_COUNT,
    deleteGuardMinFiles: nums.DELETE_GUARD_MIN_FILES,

    resumeSync: bools.RESUME_SYNC,
    resumeTry: nums.RESUME_TRY,
    forceStrangerLockResume: bools.FORCE_STRANGER_LOCK_RESUME,
    partial: bools.PARTIAL,
    deltaCopies: bools.DELTA_COPIES,

    destinationMails: splitSpaces(get('DESTINATION_MAILS')),
    alwaysSendMails: get('ALWAYS_SEND_MAILS') === 'true',
    mailBodyCharset: get('MAIL_BODY_CHARSET'),
    senderMail: get('SENDER_MAIL'),
    smtpServer: get('SMTP_SERVER'),
    smtpPort: portRaw === '' ? 25 : Number(portRaw),
    smtpEncryption,
    smtpUser: get('SMTP_USER'),
    smtpPassword: get('SMTP_PASSWORD'),
    mailTransport: transportRaw === 'smtp' ? 'smtp' : 'auto',

    localRunBeforeCmd: get('LOCAL_RUN_BEFORE_CMD'),
    localRunAfterCmd: get('LOCAL_RUN_AFTER_CMD'),
    remoteRunBeforeCmd: get('REMOTE_RUN_BEFORE_CMD'),
    remoteRunAfterCmd: get('REMOTE_RUN_AFTER_CMD'),
    maxExecTimePerCmdBefore: nums.MAX_EXEC_TIME_PER_CMD_BEFORE,
    maxExecTimePerCmdAfter: nums.MAX_EXEC_TIME_PER_CMD_AFTER,
    stopOnCmdError: bools.STOP_ON_CMD_ERROR,
    runAfterCmdOnError: bools.RUN_AFTER_CMD_ON_ERROR,
  };
  return { config, warnings };
}

/** The user ssh logs in as when the URI names none (as lib/main.ts builds the replicas). */
function localUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}

function bogus(key: string, value: string, where = 'config file'): ConfigError {
  return new ConfigError(
    `Bogus ${key} value [${value}] defined in ${where}. Correct your config file or update it using the update script if using and old version.`,
    1,
  );
}

/** Leading `~` (alone or before `/`) → $HOME; osync does this for the 4 path keys. */
export function expandTilde(value: string, home: string): string {
  if (home !== '' && (value === '~' || value.startsWith('~/'))) return home + value.slice(1);
  return value;
}

/** One trailing slash removed (osync then adds exactly one back); "/" stays "/". */
function stripOneSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * osync's RsyncPatternsAdd: split on the separator, keeping empty pieces in the middle
 * but not a trailing one (`a;` is one pattern).
 */
export function splitPatterns(value: string, sep: string): string[] {
  if (value === '') return [];
  const parts = value.split(sep);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** A bare name (no '/') is looked up beside the conf file; missing files are dropped. */
function resolvePatternFile(value: string, confDir: string, cwd: string): string {
  if (value === '') return '';
  const abs = value.includes('/') ? path.resolve(cwd, value) : path.join(confDir, value);
  return fs.existsSync(abs) ? abs : '';
}

function splitSpaces(value: string): string[] {
  return value.split(/\s+/).filter((s) => s !== '');
}

/** Shell-style word splitting (quotes honoured); shell operators are refused. */
export function splitWords(key: string, value: string): string[] {
  if (value.trim() === '') return [];
  const words: string[] = [];
  for (const entry of shellParse(value, (name: string) => '$' + name)) {
    if (typeof entry === 'string') words.push(entry);
    else if ('op' in entry && entry.op === 'glob') words.push(entry.pattern);
    else {
      const what = 'op' in entry ? entry.op : '#';
      throw new ConfigError(
        `${key} contains shell syntax [${what}] that osync-ts does not run: [${value}]. Quote it if it is meant literally.`,
        1,
      );
    }
  }
  return words;
}

function isFile(p: string, cwd: string): boolean {
  if (p === '') return false;
  try {
    return fs.statSync(path.resolve(cwd, p)).isFile();
  } catch {
    return false;
  }
}

export function usageText(): string {
  return `osync-ts — two-way file synchronisation over rsync (osync v1.3 compatible)

Usage: osync /path/to/file.conf [OPTIONS]
       osync /path/to/file.env [OPTIONS]
       osync --initiator=/local/replica --target=/other/replica [OPTIONS] [QUICKSYNC OPTIONS]
       osync --initiator=/local/replica --target=ssh://[user@]host[:port]//path [OPTIONS] [QUICKSYNC OPTIONS]

The config file must be the first argument. With both --initiator= and --target=
no config file is read; settings come from the environment and these options.

[OPTIONS]
--dry                   Simulate: list what would change, change nothing
--silent                No screen output (the log file is still written)
--verbose               More output, including rsync item lists
--errors-only           Only warnings and errors (screen and log file)
--no-prefix             No time prefix on output lines
--summary               List transferred and deleted files at the end
--stats                 Add rsync transfer statistics to verbose output
--log-conflicts         Record files changed on both sides (experimental)
--alert-conflicts       Mail the conflict list (implies --log-conflicts)
--partial               Keep partially transferred files for the next run
--no-maxtime            Disable the soft and hard execution time limits
--force-unlock          Replace existing locks on both replicas without checking them
--no-resume             Never resume an interrupted run
--non-interactive       No progress animation (cron, services)
--initialize            Only record the current file lists; transfer nothing
--no-locks              Do not take or check locks
--force                 Let the run through the mass-deletion safety check (osync-ts)
--json                  Machine-readable output (osync-ts)
--list-trash            List what can be restored from both replicas' trash (osync-ts)
--restore=PATH          Put PATH back from the trash on the replica that holds it (osync-ts)
  --from=deleted|backup   ...only from soft-deleted items, or only from backups
  --at=TIME               ...the version current at TIME (ISO date or date-time)
  --side=initiator|target ...only from that replica's trash
--on-changes            Daemon: sync at start, after changes on either replica, and
                        at least every MAX_WAIT seconds
--on-changes-target     Target helper (on the target's host): tell the initiator's
                        daemon about changes on the target
-h, --help              This text
-v, --version           Program version

[QUICKSYNC OPTIONS]
--initiator=PATH            Local initiator replica (holds the state directory)
--target=PATH|URI           Local path or ssh://user@host:port//path
--rsakey=FILE               SSH private key
--password-file=FILE        sshpass password file, when no key is used
--krb5                      Use the Kerberos credential cache
--ssh-controlmaster         Share one ssh connection for the whole run
--remote-token=TOKEN        Token expected by ssh_filter.sh on the target
--instance-id=ID            Task name (default quicksync_task)
--skip-deletion=LIST        Do not propagate deletions to: initiator, target, or initiator,target
--sync-type=TYPE            initiator2target or target2initiator (one-way sync)
--destination-mails="A B"   Space-separated alert mail recipients
--initiator-state-dir=DIR   Initiator state directory (default <initiator>/.osync_workdir/state)
--target-state-dir=DIR      Target state directory (default <target>/.osync_workdir/state)

Other settings may come from the environment, e.g.
  SOFT_DELETE_DAYS=365 osync --initiator=/path --target=/other/path
In config-file mode, keys in the file win over the environment.
`;
}
