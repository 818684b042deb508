// Before anything else: each replica's root exists (or is created with CREATE_DIRS),
// is writable, has its .osync_workdir and state dir, and enough free space.
// The same POSIX sh script runs locally or on the remote host.
import fs from 'node:fs';
import type { Config } from './config/types.js';
import type { Runner } from './proc/run.js';
import { displayRoot, type Replica } from './replica.js';
import type { Logger } from './report/log.js';

// $1 root  $2 workdir  $3 state dir  $4 create dirs (true|false)  $5 check space (true|false)
// $6 rsync program that must exist on this host
// Prints "fsid <df -P line>": the filesystem and mount point holding the root (its
// identity for the deletion guard: a replica that is suddenly on another mount).
const CHECK_SCRIPT = `
root=$1; work=$2; state=$3
command -v "$6" >/dev/null 2>&1 || { echo "no-rsync"; exit 3; }
if [ ! -d "$root" ]; then
  [ "$4" = true ] || { echo "missing"; exit 3; }
  mkdir -p -- "$root" || { echo "cannot-create"; exit 3; }
  echo "created"
fi
[ -w "$root" ] || { echo "not-writable"; exit 3; }
if [ ! -d "$work" ]; then mkdir -p -- "$work" && echo "created-work"; fi
mkdir -p -- "$state" "$work/tmp" || { echo "cannot-create-state"; exit 3; }
# One df for both the filesystem identity (guard) and the free space.
dfl=$(df -P -k -- "$root" 2>/dev/null | tail -n 1)
if [ -n "$dfl" ]; then echo "fsid $dfl"; [ "$5" = true ] && echo "df $dfl"; fi
exit 0
`;

export class ReplicaError extends Error {}

/** The root does not exist and was not to be created. */
export class RootMissingError extends ReplicaError {}

export interface ReplicaInfo {
  /** "<filesystem> on <mount point>" of the root (from df -P), null when unknown. */
  identity: string | null;
}

/** The identity in a check's "fsid <df -P line>" output line. */
export function parseIdentity(line: string | undefined): string | null {
  const m = line ? /^fsid (.+?)\s+\S+\s+\S+\s+\S+\s+\S+%\s+(\/.*)$/.exec(line) : null;
  return m ? `${m[1]} on ${m[2]}` : null;
}

/** `createDirs: false` keeps a missing root missing (the deletion guard decides). */
export async function checkReplica(runner: Runner, log: Logger, config: Config, r: Replica, dry: boolean, opts: { createDirs?: boolean } = {}): Promise<ReplicaInfo> {
  const where = r.remote ? 'remote' : 'local';
  if (config.minimumSpace !== 0) log.notice(`Checking minimum disk space in ${where} replica [${displayRoot(r)}].`);
  const rsyncProgram = r.remote ? remoteRsyncProgram(config) : config.rsyncExecutable;
  const res = await runner.runScript(r, CHECK_SCRIPT, [r.root, r.workDir, r.stateDir, String((opts.createDirs ?? config.createDirs) && !dry), String(config.minimumSpace !== 0), rsyncProgram]);
  const out = res.stdout.split('\n');
  const ours = ['missing', 'not-writable', 'cannot-create', 'cannot-create-state', 'no-rsync'];
  if (r.remote && res.exitCode !== 0 && !ours.includes(out[0])) {
    const t = r.remote.target;
    throw new ReplicaError(`Cannot connect to remote system [${t.host}] port [${t.port}] as [${t.user}]: ${describeSshFailure(res.stderr)}`);
  }
  if (res.exitCode !== 0) {
    const why = out[0];
    if (why === 'no-rsync') throw new ReplicaError(`rsync [${rsyncProgram}] was not found on the ${where} host of the ${r.side} replica.`);
    if (why === 'missing') throw new RootMissingError(`${cap(where)} replica path [${displayRoot(r)}] does not exist or is not writable and CREATE_DIRS is not allowed.`);
    if (why === 'not-writable') throw new ReplicaError(`${cap(where)} replica path [${displayRoot(r)}] is not writable.`);
    if (why === 'cannot-create') throw new ReplicaError(`Cannot create ${where} replica path [${displayRoot(r)}].`);
    if (why === 'cannot-create-state') throw new ReplicaError(`Cannot create ${where} replica state dir [${r.stateDir}].`);
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
  return { identity: parseIdentity(out.find((l) => l.startsWith('fsid '))) };
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
  if (!dry && !log.errored) fs.writeFileSync(stamp, `${new Date().toISOString()}\n`, { mode: 0o600 });
}
