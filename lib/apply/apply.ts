// Carry out a plan with rsync: one batched deletion run per side (soft deletes move
// items into .osync_workdir/deleted), then one transfer run per direction with an
// explicit NUL-separated file list. Never a process per file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, Side } from '../config/types.js';
import { decodeRendered, displayPath } from '../detect/parse-listing.js';
import { firstLine } from '../detect/list.js';
import type { Action } from '../plan/plan.js';
import type { Runner } from '../proc/run.js';
import { deletionArgv, rsyncMeaning, rsyncSucceeded, transferArgv } from '../proc/rsync.js';
import type { Replica } from '../replica.js';
import type { Logger } from '../report/log.js';

type Copy = Extract<Action, { kind: 'copy' }>;
type Delete = Extract<Action, { kind: 'delete' }>;

export interface ApplyOptions {
  dry: boolean;
  itemize: boolean;
  backupSuffix?: string;
}

export interface ApplyResult {
  failed: Set<Action>;
  /** rsync's itemised output per destination side (for --verbose). */
  itemized: Record<Side, string>;
}

function fileList(paths: string[]): Buffer {
  return Buffer.from(paths.map((p) => decodeRendered(p) + '\0').join(''), 'latin1');
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
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'osync-ts.empty.'));
  try {
    await Promise.all(
      (['initiator', 'target'] as const).map(async (side) => {
        const dels = actions.filter((a): a is Delete => a.kind === 'delete' && a.on === side);
        if (!dels.length) return;
        const r = replicas[side];
        log.notice(`Propagating deletions to ${side} replica.`);
        for (const d of dels) log.verbose(`Deleting [${displayPath(d.path)}] on ${side} (${d.reason}).`);
        if (o.dry) return;
        const byTrash = new Map<string | null, Delete[]>();
        for (const d of dels) {
          const into = d.into === 'deleted' ? (config.softDelete ? 'deleted' : null) : config.conflictBackup ? 'backup' : null;
          byTrash.set(into, [...(byTrash.get(into) ?? []), d]);
        }
        for (const [into, group] of byTrash) {
          const argv = deletionArgv(config, emptyDir, r, into as 'deleted' | 'backup' | null, {
            dry: false,
            suffix: into === 'backup' ? o.backupSuffix : undefined,
          });
          const res = await runner.run(argv, { input: fileList(group.map((d) => d.path)), viaSsh: !!r.remote });
          // 24: rsync notes that the (empty) source lacks the parent dirs; not a failure.
          if (rsyncSucceeded(res.exitCode)) continue;
          // Which ones went: rsync prints "*deleting <path>" for each item it removed.
          const done = new Set<string>();
          for (const line of res.stdout.split('\n')) {
            const m = /^\*deleting\s+(.*?)\/?$/.exec(line);
            if (m) done.add(m[1]);
          }
          for (const d of group) {
            if (done.has(d.path)) continue;
            failed.add(d);
            log.error(`Cannot ${into ? 'move' : 'delete'} [${displayPath(d.path)}]${into ? ` to ${into} directory` : ''} on ${side} replica.`);
          }
          log.error(`rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}) while deleting on ${side} replica: ${firstLine(res.stderr)}`);
        }
        if ([...failed].some((a) => a.kind === 'delete' && a.on === side)) log.critical(`Deletion on ${side} replica failed.`);
      }),
    );
  } finally {
    fs.rmSync(emptyDir, { recursive: true, force: true });
  }
  return failed;
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
  const itemized: Record<Side, string> = { initiator: '', target: '' };
  await Promise.all(
    (['target', 'initiator'] as const).map(async (to) => {
      const copies = actions.filter((a): a is Copy => a.kind === 'copy' && a.to === to);
      if (!copies.length) return;
      const from: Side = to === 'target' ? 'initiator' : 'target';
      log.notice(`Updating ${to} replica.`);
      for (const c of copies) log.verbose(`Copying [${displayPath(c.path)}] ${from} → ${to} (${c.reason}).`);
      if (o.dry) return;
      const argv = transferArgv(config, replicas[from], replicas[to], { dry: false, itemize: o.itemize, backupSuffix: o.backupSuffix });
      const res = await runner.run(argv, { input: fileList(copies.map((c) => c.path)), viaSsh: !!(replicas[from].remote || replicas[to].remote) });
      itemized[to] = res.stdout;
      if (rsyncSucceeded(res.exitCode)) {
        if (res.exitCode === 24) log.warn(`Some files vanished on ${from} replica while updating ${to} replica; the next run picks them up.`);
        log.notice(`Updating ${to} replica succeded.`);
        return;
      }
      // Which files made it is not known exactly: count the whole batch as failed, so
      // the next run sees every one of these changes again (redoing the done ones is a no-op).
      for (const c of copies) failed.add(c);
      log.critical(`Updating ${to} replica failed: rsync exit ${res.exitCode} (${rsyncMeaning(res.exitCode)}).`);
      log.notice(res.stderr.slice(0, 16384).trim());
    }),
  );
  return { failed, itemized };
}
