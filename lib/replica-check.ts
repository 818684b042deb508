// Before anything else: each replica's root exists (or is created with CREATE_DIRS),
// is writable, has its .osync_workdir and state dir, and enough free space.
// The same POSIX sh script runs locally or on the remote host.
import fs from 'node:fs';
import type { Config } from './config/types.js';
import type { Runner } from './proc/run.js';
import { displayRoot, WORKDIR, type Replica } from './replica.js';
import type { Logger } from './report/log.js';
import { CREATE_LOCK_SH } from './state/lock.js';
import { sweepStaleTempDirs } from './tmp.js';

// $1 root  $2 workdir  $3 state dir  $4 create dirs (true|false)  $5 check space (true|false)
// $6 rsync program that must exist on this host  [$7 lock file  $8 this run's lock text]
// Prints "fsid <df -P line>": the filesystem and mount point holding the root (its
// identity for the deletion guard: a replica that is suddenly on another mount).
// With $8: this run's lock on the initiator (taken first), found at the root or above
// it, means the target is the initiator or lies inside it (the same host reached over
// ssh, where paths cannot be compared from the initiator): "overlap same|inside <dir>".
const CHECK_STEPS = `
root=$1; work=$2; state=$3; made=
command -v "$6" >/dev/null 2>&1 || { echo "no-rsync"; exit 3; }
if [ ! -d "$root" ]; then
  [ "$4" = true ] || { echo "missing"; exit 3; }
  mkdir -p -- "$root" || { echo "cannot-create"; exit 3; }
  made=1
fi
if [ -n "$8" ]; then
  real=$(cd -- "$root" && pwd -P) || real=
  d=$real
  while [ -n "$d" ]; do
    if [ -f "$d/${WORKDIR}/lock" ] && IFS= read -r l < "$d/${WORKDIR}/lock" && [ "$l" = "$8" ]; then
      [ -n "$made" ] && rmdir -- "$root"
      [ "$d" = "$real" ] && echo "overlap same $d" || echo "overlap inside $d"
      exit 3
    fi
    [ "$d" = / ] && break
    d=\${d%/*}; [ -n "$d" ] || d=/
  done
fi
[ -n "$made" ] && echo "created"
[ -w "$root" ] || { echo "not-writable"; exit 3; }
if [ ! -d "$work" ]; then mkdir -p -- "$work" && echo "created-work"; fi
mkdir -p -- "$state" "$work/tmp" || { echo "cannot-create-state"; exit 3; }
# One df for both the filesystem identity (guard) and the free space.
dfl=$(df -P -k -- "$root" 2>/dev/null | tail -n 1)
if [ -n "$dfl" ]; then echo "fsid $dfl"; [ "$5" = true ] && echo "df $dfl"; fi
# The host's clock: its files' mtimes are in its time (racily clean files, lib/state/files.ts).
echo "clock $(date +%s)"
`;
const CHECK_SCRIPT = `${CHECK_STEPS}exit 0\n`;
// The same with $7 lock file, $8 lock text: the lock created once the checks pass.
const CHECK_AND_LOCK_SCRIPT = `${CREATE_LOCK_SH}${CHECK_STEPS}create_lock "$7" "$8" && echo locked\nexit 0\n`;

export class ReplicaError extends Error {}

/** The root does not exist and was not to be created. */
export class RootMissingError extends ReplicaError {}

export interface ReplicaInfo {
  /** "<filesystem> on <mount point>" of the root (from df -P), null when unknown. */
  identity: string | null;
  /** The lock asked for with the check (`lock`) was created: this run holds it. */
  locked?: boolean;
  /** Seconds the replica's host clock is ahead of this one's (0 for a local replica). */
  clockOffset: number;
}

/** The identity in a check's "fsid <df -P line>" output line. */
export function parseIdentity(line: string | undefined): string | null {
  const m = line ? /^fsid (.+?)\s+\S+\s+\S+\s+\S+\s+\S+%\s+(\/.*)$/.exec(line) : null;
  return m ? `${m[1]} on ${m[2]}` : null;
}

/** `createDirs: false` keeps a missing root missing (the deletion guard decides).
 *  `knownIdentity`: the identity recorded at the last run, if any (see checkLocally). */
export async function checkReplica(
  runner: Runner,
  log: Logger,
  config: Config,
  r: Replica,
  dry: boolean,
  opts: { createDirs?: boolean; knownIdentity?: string | null; lock?: { file: string; text: string } } = {},
): Promise<ReplicaInfo> {
  const where = r.remote ? 'remote' : 'local';
  if (config.minimumSpace !== 0) log.notice(`Checking minimum disk space in ${where} replica [${displayRoot(r)}].`);
  const rsyncProgram = r.remote ? remoteRsyncProgram(config) : config.rsyncExecutable;
  const args = [r.root, r.workDir, r.stateDir, String((opts.createDirs ?? config.createDirs) && !dry), String(config.minimumSpace !== 0), rsyncProgram];
  // A remote replica's lock can be created by the check's own session (one ssh session less).
  const lock = r.remote ? opts.lock : undefined;
  const script = lock ? CHECK_AND_LOCK_SCRIPT : CHECK_SCRIPT;
  const res = (!r.remote && checkLocally(args, opts.knownIdentity ?? null)) || (await runner.runScript(r, script, lock ? [...args, lock.file, lock.text] : args));
  const out = res.stdout.split('\n');
  const ours = ['missing', 'not-writable', 'cannot-create', 'cannot-create-state', 'no-rsync', 'overlap'];
  if (r.remote && res.exitCode !== 0 && !ours.includes(out[0].split(' ')[0])) {
    const t = r.remote.target;
    throw new ReplicaError(`Cannot connect to remote system [${t.host}] port [${t.port}] as [${t.user}]: ${describeSshFailure(res.stderr)}`);
  }
  if (res.exitCode !== 0) {
    const [why, how, ...dir] = out[0].split(' ');
    if (why === 'no-rsync') throw new ReplicaError(`rsync [${rsyncProgram}] was not found on the ${where} host of the ${r.side} replica.`);
    if (why === 'missing') throw new RootMissingError(`${cap(where)} replica path [${displayRoot(r)}] does not exist or is not writable and CREATE_DIRS is not allowed.`);
    if (why === 'not-writable') throw new ReplicaError(`${cap(where)} replica path [${displayRoot(r)}] is not writable.`);
    if (why === 'cannot-create') throw new ReplicaError(`Cannot create ${where} replica path [${displayRoot(r)}].`);
    if (why === 'cannot-create-state') throw new ReplicaError(`Cannot create ${where} replica state dir [${r.stateDir}].`);
    if (why === 'overlap') {
      const what = how === 'same' ? 'is the initiator replica itself' : 'lies inside the initiator replica';
      throw new ReplicaError(`Target replica [${displayRoot(r)}] ${what} (its host shows this run's initiator lock in [${dir.join(' ')}/]): a replica cannot hold the other.`);
    }
    throw new ReplicaError(`Cannot check ${where} ${r.side} replica [${displayRoot(r)}]: ${res.stderr.trim().split('\n')[0] || `exit ${res.exitCode}`}`);
  }
  if (out.includes('created')) log.notice(`Created ${where} replica path [${displayRoot(r)}]`);
  if (out.includes('created-work')) log.notice(`Created ${where} replica osync path [${r.root}//.osync_workdir]`);
  const df = out.find((l) => l.startsWith('df '));
  if (df) {
    const cols = df.slice(3).trim().split(/\s+/);
    const free = Number(cols[3]);
    if (Number.isFinite(free) && free < config.minimumSpace) {
      log.warn(`There is not enough free space on ${where} replica [${displayRoot(r)}] (${free} KB).`);
    }
  }
  const clock = Number(out.find((l) => l.startsWith('clock '))?.slice(6));
  const clockOffset = r.remote && Number.isInteger(clock) && clock > 0 ? clock - Math.round(Date.now() / 1000) : 0;
  return { identity: parseIdentity(out.find((l) => l.startsWith('fsid '))), locked: !!lock && out.includes('locked'), clockOffset };
}

/**
 * CHECK_SCRIPT's work done in this process for a local replica (a cron run with nothing
 * to do is mostly fixed costs like this one). Same arguments, same output lines. The
 * identity is read from /proc/self/mountinfo; null (run the script, whose df is the
 * reference) when that is unavailable or differs from the identity recorded last time,
 * so a mountinfo reading that does not match df's can never trip the deletion guard.
 */
export function checkLocally(args: string[], knownIdentity: string | null): { exitCode: number; stdout: string; stderr: string } | null {
  const [root, work, state, createDirs, checkSpace, rsyncProgram] = args;
  const fail = (why: string) => ({ exitCode: 3, stdout: why + '\n', stderr: '' });
  const out: string[] = [];
  let mount: { source: string; point: string } | null;
  let availableKb: number;
  try {
    if (!onPath(rsyncProgram)) return fail('no-rsync');
    if (!isDir(root)) {
      if (createDirs !== 'true') return fail('missing');
      try {
        fs.mkdirSync(root, { recursive: true });
      } catch {
        return fail('cannot-create');
      }
      out.push('created');
    }
    try {
      fs.accessSync(root, fs.constants.W_OK);
    } catch {
      return fail('not-writable');
    }
    if (!isDir(work)) {
      fs.mkdirSync(work, { recursive: true });
      out.push('created-work');
    }
    try {
      fs.mkdirSync(state, { recursive: true });
      fs.mkdirSync(`${work}/tmp`, { recursive: true });
    } catch {
      return fail('cannot-create-state');
    }
    mount = mountOf(root);
    const st = fs.statfsSync(root);
    availableKb = Math.floor((st.bavail * st.bsize) / 1024);
  } catch {
    return null; // anything unexpected: let the script say what it is
  }
  if (mount === null || (knownIdentity !== null && `${mount.source} on ${mount.point}` !== knownIdentity)) return null;
  // Lines shaped like the script's df -P line (only these columns are read).
  const dfLine = `${mount.source} 0 0 ${availableKb} 0% ${mount.point}`;
  out.push(`fsid ${dfLine}`);
  if (checkSpace === 'true') out.push(`df ${dfLine}`);
  return { exitCode: 0, stdout: out.join('\n') + '\n', stderr: '' };
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** `command -v`: an executable file at that path, or in a PATH directory. */
function onPath(program: string): boolean {
  const executable = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return executable(program);
  return (process.env.PATH ?? '').split(':').some((d) => executable(`${d || '.'}/${program}`));
}

/**
 * The filesystem and mount point holding `p`, as df -P names them: the
 * entry of /proc/self/mountinfo with the device of `p` and the longest mount point
 * that contains it (the last one, if mounted over). null when it cannot tell.
 */
export function mountOf(p: string): { source: string; point: string } | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  const dev = fs.statSync(p).dev;
  const devId = `${Math.floor(dev / 256) & 0xfff | (Math.floor(dev / 2 ** 32) & ~0xfff)}:${(dev & 0xff) | (Math.floor(dev / 4096) & ~0xff)}`;
  const real = fs.realpathSync(p);
  let best: { point: string; source: string } | null = null;
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0 || f[2] !== devId) continue;
    const point = unescapeMount(f[4]);
    const inside = point === '/' || real === point || real.startsWith(point + '/');
    if (inside && (!best || point.length >= best.point.length)) best = { point, source: unescapeMount(f[dash + 2]) };
  }
  return best;
}

/** mountinfo writes space, tab, newline and backslash as \ooo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function remoteRsyncProgram(config: Config): string {
  const exe = config.rsyncExecutable || 'rsync';
  return config.rsyncRemotePath ? `${config.rsyncRemotePath.replace(/\/+$/, '')}/${exe}` : exe;
}

/** ssh's and sudo's own words, turned into one line a sysadmin can act on. */
export function describeSshFailure(stderr: string): string {
  const text = stderr.trim();
  const first = text.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '';
  if (/Host key verification failed|No .* host key is known|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(text))
    return `host key unknown or changed (add it to known_hosts, or set SSH_IGNORE_KNOWN_HOSTS=true). ${first}`;
  if (/Permission denied/i.test(text)) return `authentication refused (check SSH_RSA_PRIVATE_KEY and the remote authorized_keys). ${first}`;
  if (/Connection refused|Connection timed out|No route to host|Could not resolve|Name or service not known|Network is unreachable/i.test(text))
    return `host unreachable. ${first}`;
  if (/sudo:.*password is required|sudo:.*a terminal is required/i.test(text))
    return `sudo asks for a password: SUDO_EXEC needs passwordless sudo for rsync and sh (see README). ${first}`;
  if (/Syntax error near unexpected token/.test(text)) return `command refused by the remote forced command (check _REMOTE_TOKEN). ${first}`;
  return first || 'ssh failed';
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

// Arguments: pairs <dir> <days>. For each: remove files, then empty directories,
// whose ctime is older than <days> days (find -ctime +N, as osync).
const CLEANUP_SCRIPT = `
status=0
while [ $# -ge 2 ]; do
  d=$1; days=$2; shift 2
  if [ ! -d "$d" ]; then echo "absent $d"; continue; fi
  find "$d" -type f -ctime +"$days" -exec rm -f -- {} + || { echo "failed $d"; status=1; continue; }
  find "$d" -mindepth 1 -depth -type d -empty -ctime +"$days" -exec rmdir -- {} + 2>/dev/null
  echo "done $d"
done
exit $status
`;

/** How often the trash is purged: retention counts in days, and walking a large trash
 *  on every cron run would cost more than the sync itself. */
const CLEANUP_EVERY_MS = 3600_000;

/** Purge soft-deleted items and conflict backups older than their retention, as osync:
 *  one script per replica for both folders, at most once an hour (`stamp` records when). */
export async function cleanupOld(runner: Runner, log: Logger, config: Config, replicas: Replica[], dry: boolean, stamp: string): Promise<void> {
  try {
    const last = fs.statSync(stamp).mtimeMs;
    if (!dry && Date.now() - last < CLEANUP_EVERY_MS && Date.now() >= last) {
      log.verbose(`Old deleted and backup files were purged at ${new Date(last).toISOString()}; next purge after an hour.`);
      return;
    }
  } catch {
    /* never purged yet */
  }
  const jobs: Array<{ kind: 'backup' | 'deleted'; days: number; label: string }> = [];
  if (config.conflictBackup && config.conflictBackupDays !== 0) {
    log.notice('Running conflict backup cleanup.');
    jobs.push({ kind: 'backup', days: config.conflictBackupDays, label: 'conflict backup' });
  }
  if (config.softDelete && config.softDeleteDays !== 0) {
    log.notice('Running soft deletion cleanup.');
    jobs.push({ kind: 'deleted', days: config.softDeleteDays, label: 'softdelete' });
  }
  await Promise.all(
    replicas.map(async (r) => {
      for (const j of jobs) {
        const verb = dry ? 'Listing' : 'Removing';
        log.notice(`${verb} files older than ${j.days} days on ${r.side} replica for ${j.label} deletion.${dry ? ' Does not remove anything.' : ''}`);
      }
      if (dry) return;
      if (!jobs.length) return;
      const res = await runner.runScript(r, CLEANUP_SCRIPT, jobs.flatMap((j) => [`${r.workDir}/${j.kind}`, String(j.days)]));
      for (const line of res.stdout.split('\n')) {
        if (line.startsWith('absent ')) log.verbose(`The ${r.side} replica dir [${line.slice(7)}] does not exist. Skipping cleaning of old files.`);
      }
      if (res.exitCode !== 0) log.error(`Error while executing cleanup on ${r.side} replica. ${res.stderr.trim()}`);
      else log.notice(`File cleanup complete on ${r.side} replica.`);
    }),
  );
  if (!dry) {
    const swept = sweepStaleTempDirs();
    if (swept.length) log.notice(`Removed ${swept.length} temporary folder(s) of earlier osync-ts runs that were killed: ${swept.join(', ')}.`);
  }
  if (!dry && !log.errored) fs.writeFileSync(stamp, `${new Date().toISOString()}\n`, { mode: 0o600 });
}
