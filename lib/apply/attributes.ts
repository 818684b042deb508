// ACL and xattr changes alone (PRESERVE_ACL / PRESERVE_XATTR): the listings cannot show
// them (rsync lists no ACLs or xattrs), so, as osync's attribute step, a dry run of rsync
// from the initiator to the target compares them, and each item that differs in
// nothing but its ACL or xattrs gets them from the side that changed them last: the
// newer ctime (a chmod, chown, setfacl or setxattr sets it), ties to CONFLICT_PREVALANCE.
// Better than osync: xattr-only changes are propagated too, and directories and links
// as well as files. Changes the planner already acts on (content, mode, owner) are left
// to their own copy, which carries ACLs and xattrs with it.
import type { Config, Side, SyncType } from '../config/types.js';
import { decodeRendered, displayPath } from '../detect/parse-listing.js';
import type { Action } from '../plan/plan.js';
import type { Runner } from '../proc/run.js';
import { attributeDiscoveryArgv, rsyncMeaning, rsyncSucceeded, transferArgv } from '../proc/rsync.js';
import { displayRoot, type Replica } from '../replica.js';
import type { Logger } from '../report/log.js';
import { firstLine } from '../detect/list.js';
import { lstatRaw } from '../trash.js';
import { fileList } from './apply.js';

/** An item whose ACL or xattrs differ between the replicas, all else being equal. */
export interface AttributeItem {
  /** Rendered relative path ('.' for the replica root). */
  path: string;
  acl: boolean;
  xattr: boolean;
}

/** Items of rsync's itemised dry run (`%i %n`) that differ only in ACL ('a') or xattrs
 *  ('x'): not sent (Y is '.'), same checksum, size and time (c, s, t are '.'; a
 *  directory's time is not its content: the two sides' often differ for good, as
 *  adding a file to one sets it). Other attribute letters may be set too (p, o, g: the
 *  planner sees those in the listings). */
export function attributeOnlyItems(itemized: string): AttributeItem[] {
  const out: AttributeItem[] = [];
  for (const line of itemized.split('\n')) {
    if (line.length < 13 || line[11] !== ' ' || line[0] !== '.') continue;
    if (!'fdL'.includes(line[1]) || line[2] !== '.' || line[3] !== '.' || (line[4] !== '.' && line[1] !== 'd')) continue;
    const acl = line[9] === 'a';
    const xattr = line[10] === 'x';
    if (!acl && !xattr) continue;
    let p = line.slice(12);
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    if (p === './' || p === '') p = '.';
    out.push({ path: p, acl, xattr });
  }
  return out;
}

/** Change time of each item on one replica, in ms; `precise` when below the second. */
export interface Ctimes {
  at: Map<string, number>;
  precise: boolean;
}

/** Which way each item's ACL/xattrs go: the source's replica → paths. A one-way sync
 *  always copies from its source; a two-way sync from the newer ctime, ties to
 *  `prevalence`. An item without a ctime on either side (gone meanwhile) is left. */
export function attributeSources(items: AttributeItem[], ctimes: Record<Side, Ctimes>, o: { syncType: SyncType; prevalence: Side }): Record<Side, string[]> {
  const from: Record<Side, string[]> = { initiator: [], target: [] };
  if (o.syncType !== 'bidirectional') {
    from[o.syncType === 'initiator2target' ? 'initiator' : 'target'].push(...items.map((i) => i.path));
    return from;
  }
  // Sub-second times only compare with sub-second times (a remote stat gives seconds).
  const precise = ctimes.initiator.precise && ctimes.target.precise;
  const when = (s: Side, p: string) => {
    const t = ctimes[s].at.get(p);
    return t === undefined ? undefined : precise ? t : Math.floor(t / 1000);
  };
  for (const { path: p } of items) {
    const ti = when('initiator', p);
    const tt = when('target', p);
    if (ti === undefined || tt === undefined) continue;
    from[ti > tt ? 'initiator' : tt > ti ? 'target' : o.prevalence].push(p);
  }
  return from;
}

// $1 = replica root; NUL-separated relative paths on stdin. One line per path that
// exists: its ctime in seconds (GNU/BusyBox stat -c, else BSD stat -f).
const CTIME_SCRIPT = `cd -- "$1" || exit 1
if stat -c %Z . >/dev/null 2>&1; then set -- -c %Z; else set -- -f %c; fi
xargs -0 stat "$@" --`;

async function readCtimes(runner: Runner, r: Replica, paths: string[]): Promise<Ctimes | null> {
  const at = new Map<string, number>();
  if (!r.remote) {
    for (const p of paths) {
      // Gone since the dry run: no time, left for the next run.
      const st = lstatRaw(`${r.root}/${decodeRendered(p)}`);
      if (st) at.set(p, st.ctimeMs);
    }
    return { at, precise: true };
  }
  const res = await runner.runScript(r, CTIME_SCRIPT, [r.root], { input: fileList(paths) });
  const lines = res.stdout.split('\n').filter((l) => l !== '');
  // One line per path, in order: anything else (a path gone meanwhile) cannot be matched up.
  if (res.exitCode !== 0 || lines.length !== paths.length || !lines.every((l) => /^\d+$/.test(l))) return null;
  paths.forEach((p, i) => at.set(p, Number(lines[i]) * 1000));
  return { at, precise: false };
}

export interface AttributeSync {
  /** Items that differ in ACL/xattrs only, not otherwise planned. */
  items: AttributeItem[];
  /** Source replica → paths whose ACL/xattrs it gives to the other. */
  from: Record<Side, string[]>;
}

/**
 * Find the ACL/xattr-only differences and decide their direction (before any change is
 * applied: the run's own copies and deletions would refresh ctimes). A path the plan
 * already acts on is left to that action. null when the step is off or could not be done (logged).
 */
export async function findAttributeChanges(
  runner: Runner,
  log: Logger,
  config: Config,
  replicas: Record<Side, Replica>,
  actions: Action[],
): Promise<AttributeSync | null> {
  if (!config.preserveAcl && !config.preserveXattr) return null;
  const planned = new Set(actions.map((a) => a.path));
  log.notice('Getting list of files that need updates.');
  const res = await runner.run(attributeDiscoveryArgv(config, replicas.initiator, replicas.target), { viaSsh: !!replicas.target.remote });
  if (!rsyncSucceeded(res.exitCode) && res.exitCode !== 23) {
    log.error(`Cannot compare ACLs and xattrs of the replicas: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}). ${firstLine(res.stderr)}`.trim());
    return null;
  }
  const items = attributeOnlyItems(res.stdout).filter((i) => !planned.has(i.path));
  if (!items.length) return { items, from: { initiator: [], target: [] } };
  let ctimes: Record<Side, Ctimes> = { initiator: { at: new Map(), precise: true }, target: { at: new Map(), precise: true } };
  if (config.syncType === 'bidirectional') {
    const paths = items.map((i) => i.path);
    const read = await Promise.all((['initiator', 'target'] as const).map((s) => readCtimes(runner, replicas[s], paths)));
    if (!read[0] || !read[1]) {
      log.warn('Cannot read the change times of files whose ACLs or xattrs differ; their attributes are compared again on the next run.');
      return null;
    }
    ctimes = { initiator: read[0], target: read[1] };
  }
  return { items, from: attributeSources(items, ctimes, { syncType: config.syncType, prevalence: config.conflictPrevalance }) };
}

/** Copy the ACLs/xattrs found by findAttributeChanges (one rsync per direction). A
 *  failure is logged as an error; the next run finds what is still different. */
export async function applyAttributeChanges(
  runner: Runner,
  log: Logger,
  config: Config,
  replicas: Record<Side, Replica>,
  found: AttributeSync,
  dry: boolean,
): Promise<void> {
  const byPath = new Map(found.items.map((i) => [i.path, i]));
  for (const from of ['initiator', 'target'] as const) {
    const to: Side = from === 'initiator' ? 'target' : 'initiator';
    const paths = found.from[from];
    if (!paths.length) {
      log.notice(`Updating file attributes on ${to} replica not required.`);
      continue;
    }
    for (const p of paths) {
      const what = byPath.get(p);
      const kind = what?.acl && what.xattr ? 'ACL and xattrs' : what?.acl ? 'ACL' : 'xattrs';
      if (dry) log.notice(`Dryrun: would copy ${kind} of [${displayPath(p)}] ${from} → ${to}.`);
      else log.verbose(`Copying ${kind} of [${displayPath(p)}] ${from} → ${to}.`);
    }
    if (dry) continue;
    log.notice(`Updating file attributes on ${to} replica.`);
    const argv = transferArgv(config, replicas[from], replicas[to], { dry: false, omitDirTimes: true });
    const res = await runner.run(argv, { input: fileList(paths), viaSsh: !!(replicas[from].remote || replicas[to].remote) });
    if (rsyncSucceeded(res.exitCode)) {
      log.notice(`Successfully updated file attributes on ${to} replica [${displayRoot(replicas[to])}].`);
      continue;
    }
    log.error(`Cannot update file attributes on ${to} replica: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}). ${firstLine(res.stderr)}`.trim());
  }
}
