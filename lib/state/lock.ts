// Replica locks: <replica>/.osync_workdir/lock holding "<pid>@<INSTANCE_ID>\n", as osync.
// Created with the shell's noclobber (O_EXCL), so of two runs starting at the same
// instant exactly one creates it; the other then reads a live lock and stops.
// A lock whose pid is dead is taken over (replaced by rename, also atomic).
// The same steps run in this process for a local replica (link(2) of a full temporary
// file, or O_EXCL where there are no hard links).
import fs from 'node:fs';
import path from 'node:path';
import type { Side } from '../config/types.js';
import type { Runner } from '../proc/run.js';
import type { Replica } from '../replica.js';

export interface LockOwner {
  pid: number;
  instanceId: string;
}

export type LockDecision =
  | { kind: 'create' }
  | { kind: 'replace'; notice: string; level: 'NOTICE' | 'WARN' }
  | { kind: 'refuse'; message: string };

export interface LockContext {
  side: Side;
  /** The replica is on another host (its lock names a pid of this, the initiator's, host). */
  remote: boolean;
  forceStrangerLockResume: boolean;
  isAlive: (pid: number) => boolean;
}

export function lockText(me: LockOwner): string {
  return `${me.pid}@${me.instanceId}`;
}

/** What to do with the lock content found on a replica. Pure. */
export function decideLock(existing: string | null, me: LockOwner, ctx: LockContext): LockDecision {
  const content = (existing ?? '').replace(/\n+$/, '');
  if (!content) return { kind: 'create' };
  const at = content.lastIndexOf('@');
  const pidText = at >= 0 ? content.slice(0, at) : content;
  // A bare pid (hand-written, or an older osync's lock) names no instance: whatever its
  // task, a dead pid is a stale lock, as osync.sh takes it.
  const id = content.indexOf('@') >= 0 ? content.slice(content.indexOf('@') + 1) : null;
  if (!/^\d+$/.test(pidText)) return { kind: 'refuse', message: `Invalid pid [${pidText}] in local replica.` };
  if (id === '') return { kind: 'refuse', message: `Invalid instance id [${id}] in local replica.` };
  const pid = Number(pidText);
  const alive = pid === me.pid ? false : ctx.isAlive(pid);
  if (!ctx.remote) {
    if (alive) return { kind: 'refuse', message: `There is already a local instance [${content}] of osync running for this replica. Cannot start.` };
    return { kind: 'replace', level: 'NOTICE', notice: `There is a local dead osync lock [${content}] that is no longer running. Resuming.` };
  }
  if (alive) return { kind: 'refuse', message: `There is already a local instance of osync that locks target replica [${content}]. Cannot start.` };
  if (id === me.instanceId || id === null) {
    return {
      kind: 'replace',
      level: 'NOTICE',
      notice:
        id === null
          ? `There is a remote dead osync lock [${content}] on target replica that names no INSTANCE_ID. Pid [${pid}] no longer running. Resuming.`
          : `There is a remote dead osync lock [${content}] on target replica that corresponds to this initiator INSTANCE_ID. Pid [${pid}] no longer running. Resuming.`,
    };
  }
  if (ctx.forceStrangerLockResume) {
    // NOTICE, as osync re-logs it: a takeover the user asked for is not a warning.
    return {
      kind: 'replace',
      level: 'NOTICE',
      notice: `There is a remote (maybe dead) osync lock [${content}] on target replica that does not correspond to this initiator INSTANCE_ID. Forcing resume.`,
    };
  }
  return {
    kind: 'refuse',
    message: `There is a remote (maybe dead) osync lock [${content}] on target replica that does not correspond to this initiator INSTANCE_ID. Will not resume.`,
  };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Shell function `create_lock FILE TEXT`: creates the lock only if there is none (the
 * shell's noclobber), then empties rsync's temp dir beside it (holding the lock, it can
 * only hold leftovers of a killed run); fails when a lock is there. Used by LOCK_SCRIPT
 * and by a remote replica's check, which takes the lock in the same ssh session.
 */
export const CREATE_LOCK_SH = `
create_lock() {
  mkdir -p -- "\${1%/*}" && (set -C; printf '%s\\n' "$2" > "$1") 2>/dev/null || return 1
  find "\${1%/*}/tmp" -mindepth 1 -delete 2>/dev/null
  return 0
}
`;

// $1 lock file, $2 content, $3 create|replace|read|release
const LOCK_SCRIPT = `${CREATE_LOCK_SH}
f=$1; c=$2
case $3 in
read) [ -f "$f" ] && cat -- "$f"; exit 0 ;;
create) create_lock "$f" "$c"; exit $? ;;
replace) mkdir -p -- "\${f%/*}" && printf '%s\\n' "$c" > "$f.new.$$" && mv -f -- "$f.new.$$" "$f" || exit 1 ;;
release) [ "$(cat -- "$f" 2>/dev/null)" = "$c" ] && rm -f -- "$f"; exit 0 ;;
esac
# replace: holding the lock now, rsync's temp dir may only hold leftovers of a killed run.
find "\${f%/*}/tmp" -mindepth 1 -delete 2>/dev/null
exit 0
`;

export function lockPath(r: Replica): string {
  return `${r.workDir}/lock`;
}

export async function readLock(runner: Runner, r: Replica): Promise<string | null> {
  if (!r.remote) {
    try {
      const f = lockPath(r);
      if (!fs.statSync(f).isFile()) return null;
      const text = fs.readFileSync(f, 'utf8');
      return text === '' ? null : text;
    } catch {
      return null;
    }
  }
  const res = await runner.runScript(r, LOCK_SCRIPT, [lockPath(r), '', 'read']);
  if (res.exitCode !== 0) throw new Error(`Cannot read lock on ${r.side} replica: ${res.stderr.trim()}`);
  return res.stdout === '' ? null : res.stdout;
}

/** Write the lock; false when another run created it first (create mode). */
export async function writeLock(runner: Runner, r: Replica, me: LockOwner, mode: 'create' | 'replace'): Promise<boolean> {
  if (!r.remote) return writeLocalLock(lockPath(r), `${lockText(me)}\n`, mode);
  const res = await runner.runScript(r, LOCK_SCRIPT, [lockPath(r), lockText(me), mode]);
  return res.exitCode === 0;
}

function writeLocalLock(f: string, content: string, mode: 'create' | 'replace'): boolean {
  const dir = path.dirname(f);
  try {
    fs.mkdirSync(dir, { recursive: true });
    // Written whole to a temporary name first: a racing run must never read the lock
    // empty (it would take that for "no lock"). link() then creates it only if absent.
    const tmp = `${f}.new.${process.pid}`;
    fs.writeFileSync(tmp, content);
    try {
      if (mode === 'replace') fs.renameSync(tmp, f);
      else {
        try {
          fs.linkSync(tmp, f);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw e;
          fs.writeFileSync(f, content, { flag: 'wx' }); // no hard links here (FAT): O_EXCL
        }
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  } catch {
    return false;
  }
  // Holding the lock now: rsync's temp dir may only hold leftovers of a killed run.
  try {
    for (const name of fs.readdirSync(`${dir}/tmp`)) fs.rmSync(`${dir}/tmp/${name}`, { recursive: true, force: true });
  } catch {
    /* no temp dir yet, or a leftover we cannot remove: rsync copes */
  }
  return true;
}

export async function releaseLock(runner: Runner, r: Replica, me: LockOwner): Promise<void> {
  if (!r.remote) {
    try {
      // As the script's $(cat): trailing newlines do not count.
      if (fs.readFileSync(lockPath(r), 'utf8').replace(/\n+$/, '') === lockText(me)) fs.rmSync(lockPath(r), { force: true });
    } catch {
      /* no lock, or not ours to remove */
    }
    return;
  }
  await runner.runScript(r, LOCK_SCRIPT, [lockPath(r), lockText(me), 'release']);
}
