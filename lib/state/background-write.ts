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

// Plain JavaScript (a worker evaluates it as it is: no TypeScript, no bundler helpers);
// the same steps as writePairNow.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
function write(file, parts) {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    for (const p of parts) fs.writeSync(fd, p);
    fs.fsyncSync(fd);
    return fs.fstatSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
try {
  for (const p of workerData) {
    const st = write(p.listTmp, [p.list]);
    write(p.metaTmp, [Buffer.from(p.metaHead + ' ' + st.size + ' ' + st.mtimeMs + ' ' + p.metaTail + '\\n', 'latin1'), p.body]);
  }
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
  pairs.forEach(writePairNow);
  return { done: Promise.resolve(), stop: async () => {} };
}

/** One pair, written here and now: the worker's steps. */
export function writePairNow(p: StampedPair): void {
  const st = writeSynced(p.listTmp, [p.list]);
  writeSynced(p.metaTmp, [Buffer.from(`${p.metaHead} ${st.size} ${st.mtimeMs} ${p.metaTail}\n`, 'latin1'), p.body]);
}

function writeSynced(file: string, parts: Uint8Array[]): fs.Stats {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    for (const p of parts) fs.writeSync(fd, p);
    fs.fsyncSync(fd);
    return fs.fstatSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeInBackground(pairs: StampedPair[]): BackgroundWrite {
  // A buffer shared by both sides (their texts are usually the same) is moved once.
  const moved = [...new Set(pairs.flatMap((p) => [p.list.buffer, p.body.buffer]))] as ArrayBuffer[];
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: pairs, transferList: moved });
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
