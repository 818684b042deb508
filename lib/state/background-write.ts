// Writing a large state in a thread of its own. A change run on a big tree writes ~20 MB
// of after lists and metadata; the main thread meanwhile applies the run's changes (one
// rename(2) per soft deletion), so the writes can run on another core instead of after
// them. Only the files' contents go to the thread: it writes them under temporary names
// and fsyncs them; putting them in place (rename, lib/state/files.ts) stays with the caller,
// after the changes, as the crash rule there wants.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** osync's list and our metadata beside it, whose first line is stamped with the list's
 *  size and mtime as written (see StateDir.writeAfter): `${metaHead} ${size} ${mtimeMs} ${metaTail}\n`. */
export interface StampedPair {
  listTmp: string;
  list: Uint8Array;
  metaTmp: string;
  metaHead: string;
  metaTail: string;
  body: Uint8Array;
}

// The thread runs writePair from its source text (no TypeScript there, no bundler).
const workerSource = () => `
const { parentPort, workerData } = require('node:worker_threads');
const writePair = ${writePair.toString()};
try {
  for (const p of workerData) writePair(require('node:fs'), p);
  parentPort.postMessage(null);
} catch (e) {
  parentPort.postMessage(String((e && e.message) || e));
}
`;

export interface BackgroundWrite {
  /** Resolves once every file is written and synced; rejects with the thread's error. */
  done: Promise<void>;
  /** Stop the thread (the files it was writing are then the caller's to remove). */
  stop(): Promise<void>;
}

/** Bytes of a latin1 string in a buffer of their own, so that it can be moved to the
 *  thread instead of copied. */
export function latin1Bytes(text: string): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(text.length);
  buf.write(text, 'latin1');
  return buf;
}

/** Below this many bytes, starting a thread (~20 ms) costs more than the writes: they are
 *  made at once, on the main thread. (The tests lower it to make small runs use a thread.) */
const threadMinBytes = () => Number(process.env.OSYNC_TS_TEST_STATE_THREAD_MIN_BYTES || 4 << 20);

/** Write the pairs under their temporary names: in a thread when they are large, else now. */
export function writePairs(pairs: StampedPair[]): BackgroundWrite {
  const bytes = pairs.reduce((n, p) => n + p.list.length + p.body.length, 0);
  if (bytes >= threadMinBytes()) return writeInBackground(pairs);
  for (const p of pairs) writePair(fs, p);
  return { done: Promise.resolve(), stop: async () => {} };
}

/** One pair, written under its temporary names and fsync'ed: the list, then the metadata,
 *  whose first line is stamped with the list's size and mtime as written.
 *  Self-contained on purpose, as the thread runs it from its source text: it uses only its
 *  parameters and globals, and has no inner named functions (a bundler may wrap those in a
 *  helper that the thread does not have). */
export function writePair(nodeFs: typeof fs, p: StampedPair): void {
  const files: [string, Uint8Array][] = [
    [p.listTmp, p.list],
    [p.metaTmp, p.body],
  ];
  let stamp: Uint8Array | null = null;
  for (const [file, content] of files) {
    const fd = nodeFs.openSync(file, 'w', 0o600);
    try {
      if (stamp) nodeFs.writeSync(fd, stamp);
      nodeFs.writeSync(fd, content);
      nodeFs.fsyncSync(fd);
      const st = nodeFs.fstatSync(fd);
      stamp = Buffer.from(`${p.metaHead} ${st.size} ${st.mtimeMs} ${p.metaTail}\n`, 'latin1');
    } finally {
      nodeFs.closeSync(fd);
    }
  }
}

function writeInBackground(pairs: StampedPair[]): BackgroundWrite {
  // A buffer shared by both sides (their texts are usually the same) is moved once.
  const moved = [...new Set(pairs.flatMap((p) => [p.list.buffer, p.body.buffer]))] as ArrayBuffer[];
  const worker = new Worker(workerSource(), { eval: true, workerData: pairs, transferList: moved });
  const done = new Promise<void>((resolve, reject) => {
    worker.once('message', (error: string | null) => (error === null ? resolve() : reject(new Error(error))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`The state writing thread stopped (exit ${code}).`)));
  });
  // Settled or not, a promise nobody awaits (a run that stops first) must not crash the run.
  done.catch(() => {});
  return {
    done,
    stop: async () => {
      await worker.terminate();
    },
  };
}
