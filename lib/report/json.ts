// --json: one JSON document on stdout for scripts, written once the exit code is known.
// Pure: the caller prints it. Paths are shown as UTF-8 text (as in the log).
import type { Side } from '../config/types.js';
import { displayPath } from '../detect/parse-listing.js';
import type { GuardVerdict } from '../plan/guards.js';
import type { Action, Plan } from '../plan/plan.js';
import { changeCounts, type SideCounts } from './summary.js';

export interface JsonAction {
  action: Action['kind'];
  path: string;
  from?: Side;
  to?: Side;
  on?: Side;
  reason: string;
}

export interface JsonReport {
  instanceId: string;
  dry: boolean;
  exitCode: number;
  /** Every action of the plan (for a dry run: what a real run would do). Empty when no plan was made. */
  plan: JsonAction[];
  conflicts: string[];
  /** Changes per replica carried out (a dry run: that a real run would carry out); all 0 when refused. */
  counts: Record<Side, SideCounts>;
  /** null when the run stopped before the guard was asked (e.g. a replica could not be reached). */
  guard: { ok: boolean; forced: boolean; reasons: Array<{ kind: string; side: Side; message: string }>; deletions: Record<Side, number>; moves: Record<Side, number> } | null;
}

export function jsonReport(instanceId: string, dry: boolean, exitCode: number, outcome: { plan?: Plan; failed?: Set<Action>; guard?: GuardVerdict }): JsonReport {
  const actions = outcome.plan?.actions ?? [];
  const failed = outcome.guard && !outcome.guard.ok ? new Set(actions) : (outcome.failed ?? new Set<Action>());
  const g = outcome.guard;
  return {
    instanceId,
    dry,
    exitCode,
    plan: actions.map((a) =>
      a.kind === 'copy'
        ? { action: a.kind, path: displayPath(a.path), from: a.from, to: a.to, reason: a.reason }
        : { action: a.kind, path: displayPath(a.path), on: a.on, reason: a.reason },
    ),
    conflicts: (outcome.plan?.conflicts ?? []).map(displayPath),
    counts: changeCounts(actions, failed),
    guard: g ? { ok: g.ok, forced: g.forced, reasons: g.reasons.map((r) => ({ kind: r.kind, side: r.side, message: r.message })), deletions: g.deletions, moves: g.moves } : null,
  };
}
