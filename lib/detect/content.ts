// What the listings cannot tell: whether files listed alike on both replicas (same size,
// same mtime to the second) hold the same content, and which of two is newer below the
// second. Asked only for the few paths the planner names (lib/plan/plan.ts
// contentSuspects), in one process per question, never one per file.
import fs from 'node:fs';
import type { Config, Side } from '../config/types.js';
import { fileList } from '../apply/apply.js';
import type { Runner } from '../proc/run.js';
import { contentCompareArgv, rsyncMeaning, rsyncSucceeded } from '../proc/rsync.js';
import type { Replica } from '../replica.js';
import type { Logger } from '../report/log.js';
import { decodeRendered } from './parse-listing.js';
import { firstLine } from './list.js';

/** The paths (rendered) whose content differs between the replicas: rsync --checksum
 *  over just those files. One it could not compare (vanished, unreadable) counts as
 *  different: a needless copy is harmless, a missed difference is not. */
export async function differingContent(runner: Runner, log: Logger, config: Config, replicas: Record<Side, Replica>, paths: string[]): Promise<Set<string>> {
  const { initiator, target } = replicas;
  const res = await runner.run(contentCompareArgv(config, initiator, target), { input: fileList(paths), viaSsh: !!(initiator.remote || target.remote) });
  if (!rsyncSucceeded(res.exitCode)) {
    log.warn(`Cannot compare the content of every file that lists alike on both replicas: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}). ${firstLine(res.stderr)}`);
  }
  const same = new Set<string>();
  for (const line of res.stdout.split('\n')) {
    const m = /^\.f.{9} (.*)$/s.exec(line);
    if (m) same.add(m[1].startsWith('./') ? m[1].slice(2) : m[1]);
  }
  return new Set(paths.filter((p) => !same.has(p)));
}

// $1 = replica root; then "./<path>" of each file: its mtime with nanoseconds, one line
// each, in order (GNU stat; elsewhere the lines do not parse and nothing is known).
const MTIMES_SCRIPT = `cd "$1" && shift && exec stat -c %.9Y -- "$@"`;

/** Each file's mtime in nanoseconds on one replica (an in-process lstat for a local one);
 *  a path missing from the map could not be read. */
async function finerMtimes(runner: Runner, r: Replica, paths: string[]): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  if (!r.remote) {
    for (const p of paths) {
      try {
        out.set(p, fs.lstatSync(Buffer.from(`${r.root}/${decodeRendered(p)}`, 'latin1'), { bigint: true }).mtimeNs);
      } catch {
        /* gone: not known */
      }
    }
    return out;
  }
  const res = await runner.runScript(r, MTIMES_SCRIPT, [r.root, ...paths.map((p) => `./${decodeRendered(p)}`)]);
  const lines = res.stdout.split('\n').filter((l) => l !== '');
  if (res.exitCode !== 0 || lines.length !== paths.length) return out;
  paths.forEach((p, k) => {
    const m = /^(\d+)\.(\d{9})$/.exec(lines[k]);
    if (m) out.set(p, BigInt(m[1]) * 1_000_000_000n + BigInt(m[2]));
  });
  return out;
}

/** For files changed on both replicas in the same second: the side whose file is newer
 *  to the nanosecond, where both times could be read and differ. */
export async function newerSides(runner: Runner, replicas: Record<Side, Replica>, paths: string[]): Promise<Map<string, Side>> {
  const out = new Map<string, Side>();
  if (!paths.length) return out;
  const [i, t] = await Promise.all([finerMtimes(runner, replicas.initiator, paths), finerMtimes(runner, replicas.target, paths)]);
  for (const p of paths) {
    const a = i.get(p);
    const b = t.get(p);
    if (a !== undefined && b !== undefined && a !== b) out.set(p, a > b ? 'initiator' : 'target');
  }
  return out;
}
