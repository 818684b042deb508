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
import { parseProgress, rsyncMeaning, rsyncSucceeded, transferArgv, withoutProgress } from '../proc/rsync.js';
import { quote } from 'shell-quote';
import { rsyncProgram } from '../proc/ssh.js';
import { WORKDIR, type Replica } from '../replica.js';
import type { Logger } from '../report/log.js';
import { keepConflictCopies, lstatRaw, makeRoom, stampRunVersions } from '../trash.js';
import type { Progress } from '../ui/phases.js';
import { testFailure } from '../testpoint.js';

type Copy = Extract<Action, { kind: 'copy' }>;
type Delete = Extract<Action, { kind: 'delete' }>;

export interface ApplyOptions {
  dry: boolean;
  stats?: boolean;
  /** A stop was asked for: a killed rsync is expected, not an error. */
  stopping?: () => boolean;
  itemize: boolean;
  /** CONFLICT_BACKUP_MULTIPLE: the run's `.YYYY.MM.DD-HH.MM.SS`, given to each version kept in backup/. */
  backupSuffix?: string;
  /** On a terminal: counts to show while the work goes on (absent: nothing is counted). */
  progress?: Progress;
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
): Promise<Set<Action>> {
  const failed = new Set<Action>();
  // Progress: items moved or deleted so far, on both sides.
  const total = o.progress && !o.dry ? actions.filter((a) => a.kind === 'delete' && !config.skipDeletion.includes(a.on)).length : 0;
  let done = 0;
  const advance = total ? (n: number) => o.progress!.deleted((done += n), total) : undefined;
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
        if (into) await makeRoom(runner, log, config, r, into as 'deleted' | 'backup', all.map((d) => d.path));
        // On a local replica, soft deletes are renames done here; rsync gets what is left.
        const group = !r.remote && into === 'deleted' ? await moveLocally(r, into, all, advance) : all;
        if (!group.length) continue;
        const left = await removeItems(runner, config, r, into as 'deleted' | 'backup' | null, group.map((d) => d.path));
        // (the script reports once it is done with the whole batch)
        advance?.(left.ok ? group.length - left.remaining.size : 0);
        if (left.ok && !left.remaining.size) continue;
        const notDone: Delete[] = [];
        for (const d of group) {
          if (left.ok && !left.remaining.has(d.path)) continue;
          failed.add(d);
          notDone.push(d);
          if (o.stopping?.()) continue;
          log.error(`Cannot ${into ? 'move' : 'delete'} [${displayPath(d.path)}]${into ? ` to ${into} directory` : ''} on ${side} replica.`);
        }
        if (into && notDone.length && !o.stopping?.()) await withdrawTwins(runner, log, r, into, notDone);
        if (o.stopping?.()) log.warn(`Deletions on ${side} replica interrupted.`);
        else if (!left.ok) log.error(`Cannot delete on ${side} replica: ${left.error}`);
      }
      // CONFLICT_BACKUP_MULTIPLE: what went to backup/ is then named with the run's date.
      const backedUp = byTrash.get('backup');
      if (backedUp && o.backupSuffix) await stampRunVersions(runner, log, r, 'backup', backedUp.map((d) => d.path), o.backupSuffix);
      if (!o.stopping?.() && [...failed].some((a) => a.kind === 'delete' && a.on === side)) log.critical(`Deletion on ${side} replica failed.`);
    }),
  );
  return failed;
}

/**
 * Soft-delete on a local replica by renaming each item into the trash (a directory goes
 * whole, as osync's mv), parents created as needed. One rename per item instead of
 * rsync's copy-into-backup-then-delete per file. A path already gone counts as done.
 * Returns what could not be renamed (another filesystem, permissions...): removeItems
 * then does those, and reports what fails, as for a remote replica.
 * With `onMoved` (a terminal's progress), the items done are reported now and then, and
 * the display gets a moment to draw them.
 */
async function moveLocally(r: Replica, into: 'deleted', group: Delete[], onMoved?: (n: number) => void): Promise<Delete[]> {
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
  let reported = 0;
  let lastReport = Date.now();
  for (const [i, d] of group.entries()) {
    if (onMoved && (i & 63) === 0 && Date.now() - lastReport >= 100) {
      onMoved(i - reported);
      reported = i;
      await new Promise((resolve) => setImmediate(resolve));
      lastReport = Date.now();
    }
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
  onMoved?.(group.length - reported - left.length);
  return left;
}

// Removing items, or moving them into the trash, on either host with no process per
// item. rsync's --delete-missing-args did this until Debian's rsync 3.2.7-1+deb12u5
// (a security fix) began refusing it ("invalid file mode 00"), so a fixed sh script
// does it: the list (NUL-separated './path' items on stdin) is kept in the workdir's
// tmp/, then
// - hard delete: `rm -rf` over the list (xargs: a few processes in all);
// - soft delete: one rsync on the replica's own host hard-links every listed item into
//   the trash (--link-dest: no data copied), then a leaf is removed only where its
//   twin in the trash is the same inode (a link or special file: where one was made);
//   a leaf without a twin (the trash on another filesystem, a file it could not link)
//   is renamed there with mv, its partial twin first removed, so a leaf that stays
//   never leaves a copy in the trash; emptied directories are removed bottom-up;
// makeRoom has cleared each item's place in the trash beforehand, so whatever lies there
// is this run's. Prints the items still in place (NUL-separated): those failed.
// $1 root, $2 trash dir relative to the root ('' = hard delete), $3 rsync program.
const LEAF_SCRIPT = `t=$1; shift
for x do
  shift
  if [ -f "$x" ] && [ ! -L "$x" ]; then
    if [ "$x" -ef "$t/$x" ]; then set -- "$@" "$x"; continue; fi
  elif [ -L "$t/$x" ] || [ -e "$t/$x" ]; then set -- "$@" "$x"; continue
  fi
  rm -rf -- "$t/$x" 2>/dev/null
  mkdir -p -- "$t/\${x%/*}" 2>/dev/null && mv -f -- "$x" "$t/$x" 2>/dev/null || rm -rf -- "$t/$x" 2>/dev/null
done
[ $# -eq 0 ] || rm -f -- "$@"`;

const UNLINK_SCRIPT = `t=$1; shift
[ $# -gt 0 ] || exit 0
find "$@" ! -type d -exec sh -c "$OSYNC_TS_LEAF" sh "$t" {} + 2>/dev/null
find "$@" -depth -type d -exec rmdir -- {} + 2>/dev/null
exit 0`;

const FINISH_SCRIPT = `for p do
  if [ -e "$p" ] || [ -L "$p" ]; then printf "%s\\0" "$p"; fi
done
exit 0`;

const REMOVE_SCRIPT = `cd -- "$1" || exit 1
t=$2 r=$3
mkdir -p ${WORKDIR}/tmp || exit 1
l=${WORKDIR}/tmp/remove-list.$$
set -C
cat > "$l" || exit 1
set +C
trap 'rm -f -- "$l"' EXIT
OSYNC_TS_LEAF=${quote([LEAF_SCRIPT])}
export OSYNC_TS_LEAF
if [ -z "$t" ]; then
  xargs -0 rm -rf -- < "$l"
else
  mkdir -p -- "$t" || exit 1
  "$r" -rlptgoD --link-dest="$PWD" --files-from="$l" --from0 ./ "$t/" >/dev/null 2>&1
  xargs -0 sh -c ${quote([UNLINK_SCRIPT])} sh "$t" < "$l"
fi
xargs -0 sh -c ${quote([FINISH_SCRIPT])} sh < "$l"`;

/** Delete the (rendered) paths on a replica, or move them into its trash; what is still
 *  in place afterwards (rendered paths), or the error that stopped the whole step. */
async function removeItems(
  runner: Runner,
  config: Config,
  r: Replica,
  into: 'deleted' | 'backup' | null,
  paths: string[],
): Promise<{ ok: true; remaining: Set<string> } | { ok: false; error: string }> {
  const rsync = r.remote ? rsyncProgram(config.rsyncRemotePath, config.rsyncExecutable) : config.rsyncExecutable;
  const res = await runner.runScript(r, REMOVE_SCRIPT, [r.root, into ? `${WORKDIR}/${into}` : '', rsync], { input: fileList(paths) });
  if (res.exitCode !== 0) return { ok: false, error: firstLine(res.stderr) || `exit ${res.exitCode}` };
  const left = new Set(res.stdout.split('\0').filter(Boolean));
  const remaining = new Set<string>();
  for (const p of paths) if (left.has('./' + decodeRendered(p))) remaining.add(p);
  return { ok: true, remaining };
}

// A deletion that fails (an immutable directory or file) must not leave the item both in
// place and in the trash, one more twin every run that retries it: REMOVE_SCRIPT links
// each file into the trash before it removes the original, and that removal is what
// fails. Taken out again, under each failed item in the trash: each file that is the
// twin of an original still in place (the same file, or the same mtime to the nanosecond:
// a copy), each directory left empty, and the item's parents made for it. What did go
// keeps its trash copy. $1 = replica root, $2 = trash dir, $3 = the loop below (an
// argument, so that it needs no quoting in here); stdin: NUL-separated "./<path>".
const WITHDRAW_SCRIPT = `cd "$2" 2>/dev/null || exit 0
exec xargs -0 sh -c "$3" sh "$1"`;
const WITHDRAW_LOOP = `r=$1; shift
[ $# -gt 0 ] || exit 0
find "$@" -depth -print0 2>/dev/null | xargs -0 sh -c '
r=$1; shift
for e; do
  [ -e "$r/$e" ] || [ -L "$r/$e" ] || continue
  if [ -d "$e" ] && [ ! -L "$e" ]; then rmdir -- "$e" 2>/dev/null
  elif [ "$e" -ef "$r/$e" ] || { [ ! "$e" -nt "$r/$e" ] && [ ! "$e" -ot "$r/$e" ]; }; then rm -f -- "$e"; fi
done' sh "$r"
for p; do
  d=\${p%/*}
  while [ "$d" != . ] && { [ -e "$r/$d" ] || [ -L "$r/$d" ]; } && rmdir -- "$d" 2>/dev/null; do d=\${d%/*}; done
done
exit 0`;

async function withdrawTwins(runner: Runner, log: Logger, r: Replica, into: string, items: Delete[]): Promise<void> {
  const res = await runner.runScript(r, WITHDRAW_SCRIPT, [r.root, `${r.workDir}/${into}`, WITHDRAW_LOOP], { input: fileList(items.map((d) => d.path)) });
  if (res.exitCode !== 0) log.error(`Cannot take what could not be deleted out of the ${into} directory on ${r.side} replica again: ${firstLine(res.stderr)}`);
}

export async function applyTransfers(
  runner: Runner,
  log: Logger,
  config: Config,
  replicas: Record<Side, Replica>,
  actions: Action[],
  o: ApplyOptions,
  now?: Record<Side, Listing>,
): Promise<ApplyResult> {
  const failed = new Set<Action>();
  const vanished = new Set<Action>();
  const itemized: Record<Side, string> = { initiator: '', target: '' };
  // Progress: bytes copied in each direction (rsync's overall progress), of the plan's total.
  const progress = o.dry ? undefined : o.progress;
  const fileCopies = progress ? actions.filter((a): a is Copy => a.kind === 'copy' && now?.[a.from].get(a.path)?.type === 'f') : [];
  const total = { bytes: fileCopies.reduce((sum, c) => sum + now![c.from].get(c.path)!.size, 0), files: fileCopies.length };
  const copied: Record<Side, { bytes: number; files: number }> = { initiator: { bytes: 0, files: 0 }, target: { bytes: 0, files: 0 } };
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
      // What the transfer will back up (an overwritten file, a directory replaced by a
      // file) must not replace an earlier backup: that one is kept under a timestamped name.
      const backedUp = config.conflictBackup ? copies.filter((c) => c.overwrites && c.reason !== 'attributes').map((c) => c.path) : [];
      await makeRoom(runner, log, config, replicas[to], 'backup', backedUp);
      // Files listed alike on both sides (same size and mtime) but found different go in a
      // run of their own that does not skip them by size and mtime (rsync's quick check).
      const alike = copies.filter((c) => c.listedAlike);
      const batches = alike.length ? [copies.filter((c) => !c.listedAlike), alike] : [copies];
      const transferred = async (): Promise<boolean> => {
        for (const batch of batches) {
          if (!batch.length) continue;
          const argv = transferArgv(config, replicas[from], replicas[to], { dry: false, itemize: o.itemize, stats: o.stats, progress: !!progress, ignoreTimes: batch === alike });
          // rsync counts from zero in each run: what earlier batches copied comes first.
          const before = copied[to];
          let partial = '';
          const onOutput =
            progress &&
            ((chunk: string) => {
              const records = (partial + chunk).split(/[\r\n]/);
              partial = records.pop()!;
              for (const rec of records) {
                const p = parseProgress(rec);
                // (a record in the middle of a file does not say how many files are done)
                if (p) copied[to] = { bytes: before.bytes + p.bytes, files: Math.max(before.files + p.files, copied[to].files) };
              }
              const { initiator: i, target: t } = copied;
              progress.transferred({ bytes: i.bytes + t.bytes, files: i.files + t.files }, total);
            });
          const got = await runner.run(argv, { input: fileList(batch.map((c) => c.path)), viaSsh: !!(replicas[from].remote || replicas[to].remote), onOutput });
          testFailure('transfer-done');
          const res = progress ? { ...got, stdout: withoutProgress(got.stdout) } : got;
          const items = res.stdout
            .split('\n')
            .filter((l) => l && !/^\.[fdLDS] {9}/.test(l))
            .join('\n');
          itemized[to] = itemized[to] ? `${itemized[to]}\n${items}` : items;
          if (rsyncSucceeded(res.exitCode)) {
            const seen = new Set<string>();
            for (const line of res.stdout.split('\n')) {
              const m = /^\S{11} (.*?)\/?$/.exec(line);
              if (m) seen.add(m[1].startsWith('./') ? m[1].slice(2) : m[1]);
            }
            const gone = batch.filter((c) => !seen.has(c.path));
            for (const c of gone) vanished.add(c);
            if (gone.length) log.verbose(`${gone.length} file(s) vanished on ${from} replica before they could be copied; the next run looks at them again.`);
            if (res.exitCode === 24) log.warn(`Some files vanished on ${from} replica while updating ${to} replica; the next run picks them up.`);
            continue;
          }
          // Which files made it is not known exactly: count the whole batch as failed, so
          // the next run sees every one of these changes again (redoing the done ones is a no-op).
          for (const c of batch) failed.add(c);
          if (o.stopping?.()) {
            log.warn(`Updating ${to} replica interrupted.`);
            return false;
          }
          log.critical(`Updating ${to} replica failed: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}).`);
          log.notice(res.stderr.slice(0, 16384).trim());
          return false;
        }
        return true;
      };
      const ok = await transferred();
      // CONFLICT_BACKUP_MULTIPLE: the versions backed up are then named with the run's date.
      if (o.backupSuffix) await stampRunVersions(runner, log, replicas[to], 'backup', backedUp, o.backupSuffix);
      if (ok) log.notice(`Updating ${to} replica succeded.`);
    }),
  );
  return { failed, vanished, itemized };
}
