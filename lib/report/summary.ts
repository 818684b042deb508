// The --summary block, in osync's words, built from the actions that were carried out.
import type { Side } from '../config/types.js';
import { displayPath } from '../detect/parse-listing.js';
import type { Action } from '../plan/plan.js';
import { displayRoot, type Replica } from '../replica.js';

export interface SideCounts {
  created: number;
  updated: number;
  deleted: number;
}

export function changeCounts(actions: Action[], failed: Set<Action>): Record<Side, SideCounts> {
  const c: Record<Side, SideCounts> = {
    initiator: { created: 0, updated: 0, deleted: 0 },
    target: { created: 0, updated: 0, deleted: 0 },
  };
  for (const a of actions) {
    if (failed.has(a)) continue;
    if (a.kind === 'copy') c[a.to][a.overwrites ? 'updated' : 'created']++;
    if (a.kind === 'delete') c[a.on].deleted++;
  }
  return c;
}

export function summaryLines(actions: Action[], failed: Set<Action>, replicas: Record<Side, Replica>): string[] {
  const done = actions.filter((a) => !failed.has(a));
  const arrow = (s: Side) => (s === 'target' ? '>>' : '<<');
  const where = (s: Side, p: string) => `${displayRoot(replicas[s])}${displayPath(p)}`;
  const out = ['Attributes only updates: INITIATOR << >> TARGET'];
  for (const a of done) if (a.kind === 'copy' && a.reason === 'attributes') out.push(`UPDATE ${arrow(a.to)} ${where(a.to, a.path)}`);
  out.push('File transfers and simple deletions: INITIATOR << >> TARGET (may include file ownership and timestamp attributes)');
  for (const to of ['target', 'initiator'] as const) {
    for (const a of done) if (a.kind === 'copy' && a.to === to && a.reason !== 'attributes') out.push(`UPDATE ${arrow(to)} ${where(to, a.path)}`);
  }
  out.push('File deletions: INITIATOR << >> TARGET');
  for (const on of ['target', 'initiator'] as const) {
    for (const a of done) if (a.kind === 'delete' && a.on === on) out.push(`DELETE ${arrow(on)} ${where(on, a.path)}`);
  }
  const n = (f: (a: Action) => boolean) => done.filter(f).length;
  out.push(`Initiator has ${n((a) => a.kind === 'copy' && a.to === 'initiator')} updates.`);
  out.push(`Target has ${n((a) => a.kind === 'copy' && a.to === 'target')} updates.`);
  out.push(`Initiator has ${n((a) => a.kind === 'delete' && a.on === 'initiator')} deletions.`);
  out.push(`Target has ${n((a) => a.kind === 'delete' && a.on === 'target')} deletions.`);
  const c = changeCounts(actions, failed);
  for (const s of ['initiator', 'target'] as const) {
    out.push(`${s === 'initiator' ? 'Initiator' : 'Target'}: ${c[s].created} created, ${c[s].updated} updated, ${c[s].deleted} deleted.`);
  }
  return out;
}
