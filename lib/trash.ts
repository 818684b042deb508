// The trash: .osync_workdir/deleted (soft deletes) and .osync_workdir/backup (replaced
// versions) on each replica. Three jobs:
//  - makeRoom: before a batch moves items into a trash, an earlier item already at the
//    same place is kept under a timestamped name (`<name>.YYYY.MM.DD-HH.MM.SS`, the
//    earlier item's mtime in local time, the suffix CONFLICT_BACKUP_MULTIPLE uses), so
//    two versions never collide. One rsync listing per batch and, only when something
//    collides, one sh per replica that renames the colliding items.
//  - --list-trash and --restore (trashCommand), local or over ssh: the trash is listed
//    with one `rsync --list-only` per replica (no find -printf, no Node on the host).
//  - CONFLICT_COPY_BESIDE: the loser of a conflict is also kept beside the file as
//    `name (conflict YYYY-MM-DD hhmmss <loser side>).ext` on both replicas.
import fs from 'node:fs';
import os from 'node:os';
import type { Config, RunFlags, Side } from './config/types.js';
import { ancestors, type Action } from './plan/plan.js';
import { decodeRendered, displayPath, parseListing, renderedByteLength, type Entry } from './detect/parse-listing.js';
import type { Runner } from './proc/run.js';
import { rsyncMeaning, rsyncSucceeded, transferArgv, trashListingArgv, trashProbeArgv } from './proc/rsync.js';
import { makeReplicas, type Replica } from './replica.js';
import type { Logger } from './report/log.js';
import { decideLock, pidAlive, readLock, releaseLock, writeLock, type LockOwner } from './state/lock.js';
import { makeTempDir } from './tmp.js';

export type TrashKind = 'deleted' | 'backup';
const SIDES: Side[] = ['initiator', 'target'];
const KINDS: TrashKind[] = ['deleted', 'backup'];

const p2 = (n: number) => String(n).padStart(2, '0');

/** `.YYYY.MM.DD-HH.MM.SS` of an epoch time, local time (as CONFLICT_BACKUP_MULTIPLE). */
export function versionSuffix(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  return `.${d.getFullYear()}.${p2(d.getMonth() + 1)}.${p2(d.getDate())}-${p2(d.getHours())}.${p2(d.getMinutes())}.${p2(d.getSeconds())}`;
}

const SUFFIX = /^(.+)\.(\d{4})\.(\d\d)\.(\d\d)-(\d\d)\.(\d\d)\.(\d\d)(?:-(\d+))?$/s;

/** A trash name split into the original name and the version time (epoch seconds) its suffix names. */
export function splitVersion(name: string): { name: string; version?: number } {
  const m = SUFFIX.exec(name);
  if (!m) return { name };
  const t = new Date(+m[2], +m[3] - 1, +m[4], +m[5], +m[6], +m[7]).getTime() / 1000;
  return { name: m[1], version: t };
}

function localTime(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

/** NUL-separated list, each entry as raw bytes (rendered paths decoded). */
function nulList(items: string[]): Buffer {
  return Buffer.from(items.map((p) => p + '\0').join(''), 'latin1');
}

/** Bytes in one file name on the usual file systems (ext4, xfs, btrfs, tmpfs: NAME_MAX). */
const NAME_MAX = 255;
/** Bytes kept free in a versioned name for the "-N" a collision adds. */
const COUNTER_ROOM = 4;

/**
 * `<path><suffix>`, the suffix on the last component. A name too long to take the suffix
 * (and a collision counter) within NAME_MAX bytes is cut first, on a character boundary:
 * a versioned name always fits, and the suffix, which dates it, is kept whole.
 */
export function versionedName(p: string, suffix: string): string {
  const slash = p.lastIndexOf('/');
  const name = p.slice(slash + 1);
  const room = NAME_MAX - renderedByteLength(suffix) - COUNTER_ROOM;
  return p.slice(0, slash + 1) + (renderedByteLength(name) > room ? cutRendered(name, room) : name) + suffix;
}

/** The first `bytes` bytes of a rendered name, not ending inside a UTF-8 character. */
function cutRendered(name: string, bytes: number): string {
  const units = name.match(/\\#[0-7]{3}|[\s\S]/g) ?? [];
  const byte = (u: string) => (u.length === 1 ? u.charCodeAt(0) : parseInt(u.slice(2), 8));
  let n = Math.min(bytes, units.length);
  // units[n] is the first one cut off: a continuation byte means a character is split.
  while (n > 0 && n < units.length && (byte(units[n]) & 0xc0) === 0x80) n--;
  return units.slice(0, n).join('');
}

// Rename items in a trash dir. Each argument is `./<new name>//./<path>` (no path holds
// "//"); when the new name is taken, "-1", "-2"... is appended; an item that is not there
// is skipped. $1 = the trash dir.
const MOVE_ASIDE_SCRIPT = `cd -- "$1" || exit 1
exec xargs -0 sh -c '
st=0
for a; do
  p=\${a#*//}; to=\${a%%//*}
  [ -e "$p" ] || [ -L "$p" ] || continue
  d=$to; n=1
  while [ -e "$d" ] || [ -L "$d" ]; do d="$to-$n"; n=$((n+1)); done
  mv -f -- "$p" "$d" || st=1
done
exit $st' sh`;

/** lstat of a raw path (bytes as a latin1 string); undefined when there is nothing to
 *  see there, including ENOTDIR (a parent is not a directory) and EACCES. */
export function lstatRaw(rawPath: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(Buffer.from(rawPath, 'latin1'), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** What lies in a local trash at the given (rendered) relative paths: one lstat each
 *  (makeRoom does not call it when the trash does not exist yet). */
function probeLocally(trash: string, probe: Set<string>): Map<string, Entry> {
  const found = new Map<string, Entry>();
  for (const p of probe) {
    const st = lstatRaw(`${trash}/${decodeRendered(p)}`);
    if (!st) continue;
    const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f';
    found.set(p, { type, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), mode: '' });
  }
  return found;
}

/**
 * Before items are moved into `<workdir>/<into>/` at the given (rendered) relative paths:
 * an item already at one of those paths, or a non-directory where one of their parent
 * directories must go, is renamed to `<name><suffix of its mtime>`. Returns the renames
 * (trash-relative old → new, rendered). Never throws: a failure is logged and the move
 * then behaves as osync (the newer item replaces the older one).
 */
export async function makeRoom(runner: Runner, log: Logger, config: Config, r: Replica, into: TrashKind, paths: string[]): Promise<Map<string, string>> {
  const renames = new Map<string, string>();
  // No trash yet on a local replica (the usual case after a purge): nothing in the way.
  if (!paths.length || (!r.remote && !fs.existsSync(`${r.workDir}/${into}`))) return renames;
  const probe = new Set<string>();
  for (const p of paths) {
    probe.add(p);
    for (const a of ancestors(p)) probe.add(a);
  }
  let found: Map<string, Entry>;
  if (!r.remote) found = probeLocally(`${r.workDir}/${into}`, probe);
  else {
    const empty = makeTempDir('probe');
    try {
      const res = await runner.run(trashProbeArgv(config, r, empty), {
        input: nulList([...probe].sort().map((p) => `./${into}/${decodeRendered(p)}`)),
        viaSsh: !!r.remote,
      });
      // 23: a listed path below a file in the trash (ENOTDIR); what exists is still listed.
      if (!rsyncSucceeded(res.exitCode) && res.exitCode !== 23) {
        log.warn(`Cannot look into the ${into} directory on ${r.side} replica: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}).`);
        return renames;
      }
      found = new Map();
      for (const [k, e] of parseListing(res.stdout)) if (k.startsWith(`${into}/`)) found.set(k.slice(into.length + 1), e);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  }
  const wanted = new Set(paths);
  // Outermost first, so nothing below an item already renamed is renamed again.
  for (const p of [...probe].sort()) {
    const e = found.get(p);
    if (!e) continue;
    if (!wanted.has(p) && e.type === 'd') continue;
    if (ancestors(p).some((a) => renames.has(a))) continue;
    renames.set(p, versionedName(p, versionSuffix(e.mtime)));
  }
  if (!renames.size) return renames;
  for (const [from, to] of renames) log.verbose(`Keeping the earlier [${displayPath(from)}] in ${into} directory on ${r.side} replica as [${displayPath(to)}].`);
  const failed = await moveAside(runner, r, into, renames);
  if (failed) log.error(`Cannot keep earlier versions aside in ${into} directory on ${r.side} replica: ${failed}`);
  return renames;
}

/**
 * CONFLICT_BACKUP_MULTIPLE, as osync: each version this run put in the trash at a plain
 * name is renamed `<name>.YYYY.MM.DD-HH.MM.SS` (the run's start), cut to fit if need be;
 * "-1", "-2"... when that name is taken (several runs in one second). Never throws.
 */
export async function stampRunVersions(runner: Runner, log: Logger, r: Replica, into: TrashKind, paths: string[], suffix: string): Promise<void> {
  if (!paths.length) return;
  const renames = new Map(paths.map((p) => [p, versionedName(p, suffix)]));
  const failed = await moveAside(runner, r, into, renames);
  if (failed) log.error(`Cannot name the versions kept in ${into} directory on ${r.side} replica with this run's date: ${failed}`);
}

/** Renames in a trash (trash-relative, rendered; an item not there is skipped): the first error, or ''. */
async function moveAside(runner: Runner, r: Replica, into: TrashKind, renames: Map<string, string>): Promise<string> {
  if (!r.remote) return moveAsideLocally(`${r.workDir}/${into}`, renames) ?? '';
  const args = [...renames].map(([from, to]) => `./${decodeRendered(to)}//./${decodeRendered(from)}`);
  const res = await runner.runScript(r, MOVE_ASIDE_SCRIPT, [`${r.workDir}/${into}`], { input: nulList(args) });
  return res.exitCode === 0 ? '' : res.stderr.trim().split('\n')[0] || `exit ${res.exitCode}`;
}

/** MOVE_ASIDE_SCRIPT in this process, for a local trash: the first error, or null. */
function moveAsideLocally(trash: string, renames: Map<string, string>): string | null {
  let failed: string | null = null;
  const raw = (rel: string) => `${trash}/${decodeRendered(rel)}`;
  for (const [from, to] of renames) {
    if (!lstatRaw(raw(from))) continue;
    let dest = to;
    for (let n = 1; lstatRaw(raw(dest)); n++) dest = `${to}-${n}`;
    try {
      fs.renameSync(Buffer.from(raw(from), 'latin1'), Buffer.from(raw(dest), 'latin1'));
    } catch (e) {
      failed ??= `${displayPath(from)}: ${(e as Error).message}`;
    }
  }
  return failed;
}

// ---------------------------------------------------------------------------------
// CONFLICT_COPY_BESIDE

/** `dir/name (conflict <tag>).ext` for a (rendered or raw) relative path; ext = the last one. */
export function conflictCopyName(p: string, tag: string): string {
  const slash = p.lastIndexOf('/');
  const dir = p.slice(0, slash + 1);
  const name = p.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const hasExt = dot > 0 && dot < name.length - 1;
  return `${dir}${hasExt ? name.slice(0, dot) : name} (conflict ${tag})${hasExt ? name.slice(dot) : ''}`;
}

// $1 = replica root, $2 = the "(conflict <tag>)" marker; stdin: NUL-separated copy names.
// The original is the copy name without its last marker; only regular files are copied,
// with cp -p (mode and mtime kept), never over an existing name. Prints what it made.
const CONFLICT_COPY_SCRIPT = `cd "$1" || exit 1
exec xargs -0 sh -c '
m=$1; shift
for d; do
  src="\${d%" $m"*}\${d##*" $m"}"
  if [ -f "$src" ] && [ ! -L "$src" ] && [ ! -e "$d" ] && [ ! -L "$d" ]; then
    cp -p -- "$src" "$d" && printf "%s\\\\0" "$d"
  fi
done
exit 0' sh "$2"`;

/**
 * Conflicts resolved by copying the winner over the loser: before the transfers, the
 * loser (a regular file) is copied to its conflict name on its own replica, then that
 * copy is sent to the winner's replica, so both hold it once the sync ends. The next
 * run finds the copy on both sides, equal, and records it without transferring it.
 */
export async function keepConflictCopies(runner: Runner, log: Logger, config: Config, replicas: Record<Side, Replica>, actions: Action[], dry: boolean, when = new Date()): Promise<void> {
  if (!config.conflictCopyBeside) return;
  const stamp = `${when.getFullYear()}-${p2(when.getMonth() + 1)}-${p2(when.getDate())} ${p2(when.getHours())}${p2(when.getMinutes())}${p2(when.getSeconds())}`;
  await Promise.all(
    SIDES.map(async (loser) => {
      const lost = actions.filter((a) => a.kind === 'copy' && a.to === loser && (a.reason === 'conflict-newer' || a.reason === 'conflict-prevalence'));
      if (!lost.length) return;
      const marker = `(conflict ${stamp} ${loser})`;
      const names = lost.map((a) => conflictCopyName(a.path, `${stamp} ${loser}`));
      for (let i = 0; i < lost.length; i++) log.notice(`${dry ? 'Would keep' : 'Keeping'} the ${loser} version of [${displayPath(lost[i].path)}] beside it as [${displayPath(names[i])}] on both replicas.`);
      if (dry) return;
      const made = await runner.runScript(replicas[loser], CONFLICT_COPY_SCRIPT, [replicas[loser].root, marker], { input: nulList(names.map(decodeRendered)) });
      if (made.exitCode !== 0) {
        log.error(`Cannot make conflict copies on ${loser} replica: ${made.stderr.trim().split('\n')[0] ?? ''}`);
        return;
      }
      const done = made.stdout.split('\0').filter(Boolean);
      if (!done.length) return;
      const winner: Side = loser === 'initiator' ? 'target' : 'initiator';
      const argv = transferArgv(config, replicas[loser], replicas[winner], { dry: false, itemize: false });
      const res = await runner.run(argv, { input: nulList(done.map((d) => './' + d)), viaSsh: !!(replicas[loser].remote || replicas[winner].remote) });
      if (!rsyncSucceeded(res.exitCode)) log.error(`Cannot copy conflict copies to ${winner} replica: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}); the next run copies them.`);
    }),
  );
}

// ---------------------------------------------------------------------------------
// --list-trash and --restore

export interface TrashItem {
  side: Side;
  where: TrashKind;
  /** Path below <where>/ as rsync renders it (suffixes included). */
  trashPath: string;
  /** The original relative path (version suffixes removed), rendered. */
  original: string;
  /** Time named by the innermost version suffix, if any. */
  version?: number;
  entry: Entry;
}

export class TrashError extends Error {}

export async function readTrash(runner: Runner, config: Config, r: Replica): Promise<TrashItem[]> {
  const res = await runner.run(trashListingArgv(config, r), { viaSsh: !!r.remote });
  if (res.exitCode !== 0) {
    // A replica that never held a workdir has no trash.
    if (res.exitCode === 23 && /No such file or directory/.test(res.stderr) && !res.stdout.trim()) return [];
    throw new TrashError(`Cannot list the trash of ${r.side} replica [${r.workDir}/]: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}). ${res.stderr.trim().split('\n')[0] ?? ''}`.trim());
  }
  const items: TrashItem[] = [];
  for (const [k, entry] of parseListing(res.stdout)) {
    const slash = k.indexOf('/');
    if (slash < 0) continue;
    const where = k.slice(0, slash) as TrashKind;
    if (!KINDS.includes(where)) continue;
    const trashPath = k.slice(slash + 1);
    let version: number | undefined;
    const original = trashPath
      .split('/')
      .map((c) => {
        const v = splitVersion(c);
        if (v.version !== undefined) version = v.version;
        return v.name;
      })
      .join('/');
    items.push({ side: r.side, where, trashPath, original, version, entry });
  }
  return items;
}

/** Items a person would restore: files, links and empty directories. */
function leaves(items: TrashItem[]): TrashItem[] {
  const parents = new Set<string>();
  for (const i of items) for (const a of ancestors(i.trashPath)) parents.add(`${i.side}\0${i.where}\0${a}`);
  return items.filter((i) => i.entry.type !== 'd' || !parents.has(`${i.side}\0${i.where}\0${i.trashPath}`));
}

export function formatTrashList(items: TrashItem[]): string {
  const shown = leaves(items).sort(
    (a, b) => (a.original < b.original ? -1 : a.original > b.original ? 1 : 0) || b.entry.mtime - a.entry.mtime || a.side.localeCompare(b.side) || a.where.localeCompare(b.where),
  );
  const lines: string[] = [];
  const sizeWidth = Math.max(4, ...shown.map((i) => String(i.entry.size).length));
  lines.push(`${'SIDE'.padEnd(9)}  ${'WHERE'.padEnd(7)}  ${'MODIFIED'.padEnd(19)}  ${'SIZE'.padStart(sizeWidth)}  PATH`);
  for (const i of shown) {
    const name = displayPath(i.original) + (i.entry.type === 'd' ? '/' : i.entry.type === 'l' ? ` -> ${displayPath(i.entry.target ?? '')}` : '');
    const version = i.version !== undefined ? `  (version ${localTime(i.version)})` : '';
    lines.push(`${i.side.padEnd(9)}  ${i.where.padEnd(7)}  ${localTime(i.entry.mtime)}  ${String(i.entry.size).padStart(sizeWidth)}  ${name}${version}`);
  }
  const bytes = shown.reduce((n, i) => n + (i.entry.type === 'f' ? i.entry.size : 0), 0);
  const per = SIDES.map((s) => `${s} ${shown.filter((i) => i.side === s).length}`).join(', ');
  lines.push(`${shown.length} item(s), ${bytes} bytes in the trash (${per}).`);
  return lines.join('\n') + '\n';
}

/** --at value: an ISO date or date-time; local time unless a zone is given. */
export function parseAt(text: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?\s*(Z|[+-]\d\d:?\d\d)?$/.exec(text.trim());
  const bad = () => new TrashError(`Bad --at value [${text}]: expected an ISO date or date-time such as 2026-11-25 or 2026-11-25T14:30:00.`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = [+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) throw bad();
  if (m[7]) {
    const off = m[7] === 'Z' ? 0 : (m[7][0] === '-' ? -1 : 1) * (+m[7].slice(1, 3) * 60 + +m[7].slice(-2));
    return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - off * 60;
  }
  return new Date(y, mo - 1, d, h, mi, s).getTime() / 1000;
}

export interface Version {
  side: Side;
  where: TrashKind;
  /** Trash-relative path of the item that becomes PATH (rendered). */
  key: string;
  /** Newest mtime of what it holds (files and links; the item itself when it is a bare directory). */
  time: number;
  items: TrashItem[];
}

/** Every restorable version of `wanted` (rendered, relative), newest first. */
export function versionsOf(items: TrashItem[], wanted: string): Version[] {
  const depth = wanted.split('/').length;
  const groups = new Map<string, Version>();
  for (const i of items) {
    if (i.original !== wanted && !i.original.startsWith(wanted + '/')) continue;
    const key = i.trashPath.split('/').slice(0, depth).join('/');
    const id = `${i.side}\0${i.where}\0${key}`;
    let v = groups.get(id);
    if (!v) groups.set(id, (v = { side: i.side, where: i.where, key, time: -Infinity, items: [] }));
    v.items.push(i);
  }
  for (const v of groups.values()) {
    const content = v.items.filter((i) => i.entry.type !== 'd');
    v.time = Math.max(...(content.length ? content : v.items).map((i) => i.entry.mtime));
  }
  return [...groups.values()].sort((a, b) => b.time - a.time || (a.key.length - b.key.length));
}

/** The user's PATH as listings render it (relative, no ./ or trailing /). */
function renderedPath(text: string): string {
  let p = text.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (p === '' || p.startsWith('/') || p.split('/').some((c) => c === '..' || c === '.' || c === '')) {
    throw new TrashError(`Bad --restore path [${text}]: give a path relative to the replica root.`);
  }
  p = Buffer.from(p, 'utf8').toString('latin1');
  // rsync -8 renders control bytes as \#ooo, and a backslash before #ooo too.
  return p.replace(/\\(?=#[0-7]{3})/g, '\\#134').replace(/[\x00-\x1f\x7f]/g, (c) => `\\#${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function chooseVersion(all: Version[], wanted: string, o: { from?: TrashKind; side?: Side; at?: number }): Version {
  const shown = displayPath(wanted);
  let vs = all.filter((v) => (!o.from || v.where === o.from) && (!o.side || v.side === o.side));
  if (!vs.length) {
    const where = [o.side ? `on ${o.side} replica` : 'on either replica', o.from ? `in ${o.from}` : ''].filter(Boolean).join(' ');
    throw new TrashError(`Nothing to restore: no version of [${shown}] in the trash ${where}.`);
  }
  if (o.at !== undefined) {
    vs = vs.filter((v) => v.time <= o.at!);
    if (!vs.length) throw new TrashError(`Nothing to restore: no version of [${shown}] from before ${localTime(o.at)}.`);
  }
  const best = vs.filter((v) => v.time === vs[0].time);
  const places = [...new Set(best.map((v) => `${v.side} ${v.where}`))];
  if (places.length > 1) {
    throw new TrashError(`Ambiguous: [${shown}] has versions of the same time (${localTime(vs[0].time)}) in ${places.join(' and ')}; choose with --side=initiator|target and/or --from=deleted|backup.`);
  }
  return best[0];
}

// $1 = replica root. stdin (NUL-separated): version path, PATH, backup dir (relative to
// the root). The current PATH, if any, goes to backup first; the version is then moved
// back into place. Nothing is moved when PATH's parent cannot be a directory.
const RESTORE_SCRIPT = `cd "$1" || exit 1
exec xargs -0 sh -c '
src=$1 p=$2 bk=$3
par=; case $p in */*) par=\${p%/*};; esac
if [ -n "$par" ]; then mkdir -p -- "$par" || { echo "its parent directory cannot be created" >&2; exit 3; }; fi
if [ -e "$p" ] || [ -L "$p" ]; then
  bpar=$bk; [ -z "$par" ] || bpar=$bk/$par
  mkdir -p -- "$bpar" && mv -f -- "$p" "$bk/$p" || { echo "the current item cannot be moved to backup" >&2; exit 4; }
  echo moved-current
fi
mv -- "$src" "$p" || { echo "the version cannot be moved back" >&2; exit 5; }
# Directories of the trash left empty by the move go too.
d=$src
while :; do case $d in */*/*/*) d=\${d%/*}; rmdir -- "$d" 2>/dev/null || break;; *) break;; esac; done' sh`;

export interface TrashCommandContext {
  config: Config;
  flags: RunFlags;
  log: Logger;
  runner: Runner;
  cwd: string;
  stdout: (text: string) => void;
  replicas?: Record<Side, Replica>;
}

/** --list-trash / --restore. Returns the exit code (0, or 1 with one ERROR line). */
export async function trashCommand(ctx: TrashCommandContext): Promise<number> {
  const { config, flags, log, runner } = ctx;
  const replicas = ctx.replicas ?? makeReplicas(config, ctx.cwd, os.userInfo().username);
  const me: LockOwner = { pid: process.pid, instanceId: config.instanceId };
  const held: Replica[] = [];
  try {
    if (flags.restore === undefined) {
      // Read-only: no lock, so it can run beside a sync (it may then miss what that sync moves).
      const items = (await Promise.all(SIDES.map((s) => readTrash(runner, config, replicas[s])))).flat();
      const only = items.filter((i) => !flags.restoreFrom || i.where === flags.restoreFrom).filter((i) => !flags.restoreSide || i.side === flags.restoreSide);
      ctx.stdout(formatTrashList(only));
      return 0;
    }
    const wanted = renderedPath(flags.restore);
    const at = flags.restoreAt !== undefined ? parseAt(flags.restoreAt) : undefined;
    if (!flags.noLocks) await lockBoth(runner, log, config, replicas, me, held);
    const items = (await Promise.all(SIDES.map((s) => readTrash(runner, config, replicas[s])))).flat();
    const v = chooseVersion(versionsOf(items, wanted), wanted, { from: flags.restoreFrom, side: flags.restoreSide, at });
    const r = replicas[v.side];
    // Room in backup/ for the current item; the version itself may be the one renamed.
    const renames = await makeRoom(runner, log, config, r, 'backup', [wanted]);
    let key = v.key;
    if (v.where === 'backup') {
      for (const [from, to] of renames) if (key === from || key.startsWith(from + '/')) key = to + key.slice(from.length);
    }
    const input = nulList([`.osync_workdir/${v.where}/${decodeRendered(key)}`, decodeRendered(wanted), '.osync_workdir/backup']);
    const res = await runner.runScript(r, RESTORE_SCRIPT, [r.root], { input });
    if (res.exitCode !== 0) throw new TrashError(`Cannot restore [${displayPath(wanted)}] on ${v.side} replica: ${res.stderr.trim().split('\n').pop() ?? ''}`);
    if (res.stdout.includes('moved-current')) log.notice(`The current [${displayPath(wanted)}] on ${v.side} replica was moved to the backup directory.`);
    log.always(`Restored [${displayPath(wanted)}] on ${v.side} replica from ${v.where} (version of ${localTime(v.time)}). The next sync copies it to the other replica.`);
    return 0;
  } catch (e) {
    if (!(e instanceof TrashError)) throw e;
    log.error(e.message);
    return 1;
  } finally {
    await Promise.all(held.map((r) => releaseLock(runner, r, me).catch(() => log.error(`Cannot remove ${r.side} replica lock.`))));
  }
}

async function lockBoth(runner: Runner, log: Logger, config: Config, replicas: Record<Side, Replica>, me: LockOwner, held: Replica[]): Promise<void> {
  for (const side of SIDES) {
    const r = replicas[side];
    let existing: string | null;
    try {
      existing = await readLock(runner, r);
    } catch (e) {
      throw new TrashError((e as Error).message);
    }
    const d = decideLock(existing, me, { side, remote: !!r.remote, forceStrangerLockResume: config.forceStrangerLockResume, isAlive: pidAlive });
    if (d.kind === 'refuse') throw new TrashError(`${d.message} Cannot restore while another run holds the replicas.`);
    if (d.kind === 'replace') log.log(d.level, d.notice);
    if (!(await writeLock(runner, r, me, d.kind === 'create' && existing === null ? 'create' : 'replace'))) {
      throw new TrashError(`Cannot take the lock on ${side} replica [${r.workDir}/lock].`);
    }
    held.push(r);
  }
}
