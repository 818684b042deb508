// Carry out a plan with rsync: one batched deletion run per side (soft deletes move
// items into .osync_workdir/deleted), then one transfer run per direction with an
// explicit NUL-separated file list. Never a process per file.
import fs from 'node:fs';
import type { Config, Side } from '../config/types.js';
import { decodeRendered, displayPath } from '../detect/parse-listing.js';
import { firstLine } from '../detect/list.js';
import type { Listing } from '../detect/parse-listing.js';
import type { Action } from '../plan/plan.js';
import type { Runner } from '../proc/run.js';
import { deletionArgv, rsyncMeaning, rsyncSucceeded, transferArgv } from '../proc/rsync.js';
import type { Replica } from '../replica.js';
import type { Logger } from '../report/log.js';
import { keepConflictCopies, lstatRaw, makeRoom } from '../trash.js';
import { makeTempDir } from '../tmp.js';

type Copy = Extract<Action, { kind: 'copy' }>;
type Delete = Extract<Action, { kind: 'delete' }>;

export interface ApplyOptions {
  dry: boolean;
  stats?: boolean;
  /** A stop was asked for: a killed rsync is expected, not an error. */
  stopping?: () => boolean;
  itemize: boolean;
  backupSuffix?: string;
}

export interface ApplyResult {
  failed: Set<Action>;
  /** Copies whose source was gone when rsync got to it: not done, but not a failure. */
  vanished: Set<Action>;
  /** rsync's itemised output per destination side (for --verbose). */
  itemized: Record<Side, string>;
}

/** NUL-separated list for --files-from --from0. Each entry starts with "./": rsync
 *  reads a list line that begins with '#' or ';' as a comment, even with --from0. */
export function fileList(paths: string[]): Buffer {
  return Buffer.from(paths.map((p) => './' + decodeRendered(p) + '\0').join(''), 'latin1');
}

export async function applyDeletions(
  runner: Runner,
  log: Logger,
  config: Config,
  replicas: Record<Side, Replica>,
  actions: Action[],
  o: ApplyOptions,
  now: Record<Side, Listing>,
): Promise<Set<Action>> {
  const failed = new Set<Action>();
  const emptyDir = makeTempDir('empty');
  try {
    await Promise.all(
      (['initiator', 'target'] as const).map(async (side) => {
        const dels = actions.filter((a): a is Delete => a.kind === 'delete' && a.on === side);
        const r = replicas[side];
        if (config.skipDeletion.includes(side)) {
          log.notice(`Skipping deletion on replica ${side}.`);
          return;
        }
        log.notice(`Propagating deletions to ${side} replica.`);
        if (!dels.length) return;
        if (log.opts.verbose) for (const d of dels) log.verbose(`Deleting [${displayPath(d.path)}] on ${side} (${d.reason}).`);
        if (o.dry) return;
        const byTrash = new Map<string | null, Delete[]>();
        for (const d of dels) {
          const into = d.into === 'deleted' ? (config.softDelete ? 'deleted' : null) : config.conflictBackup ? 'backup' : null;
          const group = byTrash.get(into);
          if (group) group.push(d);
          else byTrash.set(into, [d]);
        }
        for (const [into, all] of byTrash) {
          // An earlier item at the same place in the trash is kept under a timestamped name.
          if (into === 'deleted' || (into === 'backup' && !o.backupSuffix)) await makeRoom(runner, log, config, r, into, all.map((d) => d.path));
          // On a local replica, soft deletes are renames done here; rsync gets what is left.
          const group = !r.remote && into === 'deleted' ? moveLocally(r, into, all) : all;
          if (!group.length) continue;
          const argv = deletionArgv(config, emptyDir, r, into as 'deleted' | 'backup' | null, {
            dry: false,
            suffix: into === 'backup' ? o.backupSuffix : undefined,
          });
          const res = await runner.run(argv, { input: fileList(group.map((d) => d.path)), viaSsh: !!r.remote });
          // 24: rsync notes that the (empty) source lacks the parent dirs; not a failure.
          if (rsyncSucceeded(res.exitCode)) {
            await keepEmptyDirs(runner, r, into, group.filter((d) => now[side].get(d.path)?.type === 'd'));
            continue;
          }
          // Which ones went: rsync prints "*deleting <path>" for each item it removed.
          const done = new Set<string>();
          for (const line of res.stdout.split('\n')) {
            const m = /^\*deleting\s+(.*?)\/?$/.exec(line);
            if (m) done.add(m[1]);
          }
          for (const d of group) {
            if (done.has(d.path)) continue;
            failed.add(d);
            if (o.stopping?.()) continue;
            log.error(`Cannot ${into ? 'move' : 'delete'} [${displayPath(d.path)}]${into ? ` to ${into} directory` : ''} on ${side} replica.`);
          }
          if (o.stopping?.()) log.warn(`Deletions on ${side} replica interrupted.`);
          else log.error(`rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}) while deleting on ${side} replica: ${firstLine(res.stderr)}`);
        }
        if (!o.stopping?.() && [...failed].some((a) => a.kind === 'delete' && a.on === side)) log.critical(`Deletion on ${side} replica failed.`);
      }),
    );
  } finally {
    fs.rmSync(emptyDir, { recursive: true, force: true });
  }
  return failed;
}

/**
 * Soft-delete on a local replica by renaming each item into the trash (a directory goes
 * whole, as osync's mv), parents created as needed. One rename per item instead of
 * rsync's copy-into-backup-then-delete per file. A path already gone counts as done.
 * Returns what could not be renamed (another filesystem, permissions...): rsync then
 * does those, and reports what fails, as for a remote replica.
 */
function moveLocally(r: Replica, into: 'deleted', group: Delete[]): Delete[] {
  const left: Delete[] = [];
  // Trash directories made by this run (true) or found there (false).
  const made = new Map<string, boolean>();
  const trash = `${r.workDir}/${into}`;
  // A directory whose parent this run made is new: one mkdir, nothing to look up first.
  const makeDir = (dir: string): boolean => {
    let fresh = made.get(dir);
    if (fresh !== undefined) return fresh;
    const up = dir.slice(0, dir.lastIndexOf('/'));
    if (dir.length > trash.length && made.get(up) === undefined) makeDir(up);
    if (made.get(up)) {
      fs.mkdirSync(Buffer.from(dir, 'latin1'));
      fresh = true;
    } else fresh = fs.mkdirSync(Buffer.from(dir, 'latin1'), { recursive: true }) !== undefined;
    made.set(dir, fresh);
    return fresh;
  };
  for (const d of group) {
    const rel = decodeRendered(d.path);
    const dest = `${trash}/${rel}`;
    try {
      const fresh = makeDir(dest.slice(0, dest.lastIndexOf('/')));
      // makeRoom has moved any earlier item at `dest` aside: never rename over one. (In a
      // directory this run made there is nothing of before, and this run's items differ.)
      if (!fresh && lstatRaw(dest)) throw new Error('taken');
      fs.renameSync(Buffer.from(`${r.root}/${rel}`, 'latin1'), Buffer.from(dest, 'latin1'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || lstatRaw(`${r.root}/${rel}`)) left.push(d);
    }
  }
  return left;
}

// rsync's --backup keeps files and links but not directories: a deleted empty
// directory is recreated in the trash, as osync moves it there. $1 = trash dir,
// NUL-separated relative paths on stdin (xargs -0: GNU, BSD and BusyBox have it).
const MKDIRS_SCRIPT = `mkdir -p -- "$1" && cd "$1" && xargs -0 mkdir -p --`;

async function keepEmptyDirs(runner: Runner, r: Replica, into: string | null, dirs: Delete[]): Promise<void> {
  if (!into || !dirs.length) return;
  await runner.runScript(r, MKDIRS_SCRIPT, [`${r.workDir}/${into}`], { input: fileList(dirs.map((d) => d.path)) });
}

export async function applyTransfers(
  runner: Runner,
  log: Logger,
  config: Config,
  replicas: Record<Side, Replica>,
  actions: Action[],
  o: ApplyOptions,
): Promise<ApplyResult> {
  const failed = new Set<Action>();
  const vanished = new Set<Action>();
  const itemized: Record<Side, string> = { initiator: '', target: '' };
  // CONFLICT_COPY_BESIDE: the losers are copied beside themselves before they are replaced.
  await keepConflictCopies(runner, log, config, replicas, actions, o.dry);
  await Promise.all(
    (['target', 'initiator'] as const).map(async (to) => {
      const copies = actions.filter((a): a is Copy => a.kind === 'copy' && a.to === to);
      const from: Side = to === 'target' ? 'initiator' : 'target';
      log.notice(`Updating ${to} replica.`);
      if (!copies.length) {
        if (!o.dry) log.notice(`Updating ${to} replica succeded.`);
        return;
      }
      for (const c of copies) log.verbose(`Copying [${displayPath(c.path)}] ${from} → ${to} (${c.reason}).`);
      if (o.dry) return;
      if (config.conflictBackup && !o.backupSuffix) {
        // What the transfer will back up (an overwritten file, a directory replaced by a
        // file) must not replace an earlier backup: that one is kept under a timestamped name.
        await makeRoom(runner, log, config, replicas[to], 'backup', copies.filter((c) => c.overwrites && c.reason !== 'attributes').map((c) => c.path));
      }
      const argv = transferArgv(config, replicas[from], replicas[to], { dry: false, itemize: o.itemize, stats: o.stats, backupSuffix: o.backupSuffix });
      const res = await runner.run(argv, { input: fileList(copies.map((c) => c.path)), viaSsh: !!(replicas[from].remote || replicas[to].remote) });
      itemized[to] = res.stdout
        .split('\n')
        .filter((l) => l && !/^\.[fdLDS] {9}/.test(l))
        .join('\n');
      if (rsyncSucceeded(res.exitCode)) {
        const seen = new Set<string>();
        for (const line of res.stdout.split('\n')) {
          const m = /^\S{11} (.*?)\/?$/.exec(line);
          if (m) seen.add(m[1].startsWith('./') ? m[1].slice(2) : m[1]);
        }
        for (const c of copies) if (!seen.has(c.path)) vanished.add(c);
        if (vanished.size) log.verbose(`${vanished.size} file(s) vanished on ${from} replica before they could be copied; the next run looks at them again.`);
        if (res.exitCode === 24) log.warn(`Some files vanished on ${from} replica while updating ${to} replica; the next run picks them up.`);
        log.notice(`Updating ${to} replica succeded.`);
        return;
      }
      // Which files made it is not known exactly: count the whole batch as failed, so
      // the next run sees every one of these changes again (redoing the done ones is a no-op).
      for (const c of copies) failed.add(c);
      if (o.stopping?.()) {
        log.warn(`Updating ${to} replica interrupted.`);
        return;
      }
      log.critical(`Updating ${to} replica failed: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}).`);
      log.notice(res.stderr.slice(0, 16384).trim());
    }),
  );
  return { failed, vanished, itemized };
}
