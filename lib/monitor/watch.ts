// One replica watched for changes: a single long-lived `inotifywait -m -r` (never one
// per change), on this host or on the target's host through one ssh session with the
// sync's own ssh options, token and sudo. Nothing but inotify-tools is needed there.
//
// The watcher runs a fixed POSIX sh script (WATCH_SCRIPT), the same text locally and
// over ssh. It
//  - exits 127 with WATCHER_MISSING on stderr when inotifywait is not installed;
//  - prints `nul` or `nl` first: whether events are NUL-terminated (inotifywait >= 3.20
//    has %0 and --no-newline) or, with an older inotifywait, newline-terminated;
//  - never watches .osync_workdir (nor any directory of that name: rsync's
//    `--exclude .osync_workdir` excludes them all), so the state a sync writes there
//    does not come back as a change;
//  - stops inotifywait when its stdin closes: when the daemon stops (or dies), or when
//    the ssh session is gone, nothing is left watching.
// When the watcher ends on its own (the ssh session dropped, the directory was missing),
// it is started again after 1, 2, 4 … 60 s; once it watches again, `onEstablished` says
// so (changes made meanwhile were not seen).
import { quote } from 'shell-quote';
import type { Config } from '../config/types.js';
import { startLongLived, type LongLived } from '../proc/long-lived.js';
import { remoteCommand, setsSshOption, sshArgv } from '../proc/ssh.js';
import type { Logger } from '../report/log.js';
import { sshOptionsFor, WORKDIR, type Replica } from '../replica.js';

export const WATCHER_MISSING = 'osync-ts: inotifywait not found';

// No `!` anywhere: the script is a word of a remote command line, and shell-quote
// escapes `!` inside double quotes in a way sh keeps literally.
export const WATCH_SCRIPT = [
  'root=$1',
  `command -v inotifywait >/dev/null 2>&1 || { echo '${WATCHER_MISSING}' >&2; exit 127; }`,
  'case $(inotifywait --help 2>&1) in',
  "  *--no-newline*) echo nul; set -- --format '%e %w%f%0' --no-newline ;;",
  "  *) echo nl; set -- --format '%e %w%f' ;;",
  'esac',
  'exec 3<&0',
  `inotifywait -m -r -e create -e modify -e delete -e move -e attrib --exclude '(^|/)\\${WORKDIR}(/|$)' "$@" -- "$root/" </dev/null &`,
  'w=$!',
  '{ cat >/dev/null 2>&1; kill "$w" 2>/dev/null; } <&3 &',
  'exec 3<&-',
  'wait "$w"',
].join('\n');

export interface WatchEvent {
  /** Relative to the replica root (latin1: the name's bytes 1:1); '' for the root itself. */
  path: string;
  dir: boolean;
  /** The kernel dropped events (queue overflow): anything may have changed. */
  overflow: boolean;
}

/** argv of the watcher for a replica: `sh -c` here, or the same over ssh. */
export function watcherArgv(config: Config, replica: Replica): string[] {
  const words = ['sh', '-c', WATCH_SCRIPT, 'sh', replica.root];
  const r = replica.remote;
  if (!r) return words;
  // Keep-alives, so that a connection that died silently ends the session and is
  // replaced, instead of waiting forever for events that cannot come.
  const opts = sshOptionsFor(config);
  const extra: string[] = [];
  if (!setsSshOption(opts.optionalArgs, 'ServerAliveInterval')) extra.push('-o', 'ServerAliveInterval=15');
  if (!setsSshOption(opts.optionalArgs, 'ServerAliveCountMax')) extra.push('-o', 'ServerAliveCountMax=3');
  // No ControlMaster: this session lives as long as the daemon, a sync's does not.
  return [...sshArgv({ ...opts, controlPath: undefined, optionalArgs: [...extra, ...opts.optionalArgs] }, r.target), remoteCommand(words, r.token, r.sudo)];
}

/** Splits the watcher's output into events. */
export class EventParser {
  private sep: string | null = null;
  private rest = '';
  private readonly prefix: string;

  constructor(root: string) {
    this.prefix = root.endsWith('/') ? root : `${root}/`;
  }

  push(chunk: string): WatchEvent[] {
    this.rest += chunk;
    const out: WatchEvent[] = [];
    for (;;) {
      if (this.sep === null) {
        const nl = this.rest.indexOf('\n');
        if (nl < 0) return out;
        this.sep = this.rest.slice(0, nl) === 'nul' ? '\0' : '\n';
        this.rest = this.rest.slice(nl + 1);
        continue;
      }
      const end = this.rest.indexOf(this.sep);
      if (end < 0) return out;
      const record = this.rest.slice(0, end);
      this.rest = this.rest.slice(end + 1);
      const ev = this.parse(record);
      if (ev) out.push(ev);
    }
  }

  private parse(record: string): WatchEvent | null {
    const space = record.indexOf(' ');
    const kinds = (space < 0 ? record : record.slice(0, space)).split(',');
    const full = space < 0 ? '' : record.slice(space + 1);
    if (kinds.includes('Q_OVERFLOW')) return { path: '', dir: false, overflow: true };
    if (record === '') return null;
    let rel = full.startsWith(this.prefix) ? full.slice(this.prefix.length) : full === this.prefix.slice(0, -1) ? '' : full;
    if (rel.endsWith('/')) rel = rel.slice(0, -1);
    return { path: rel, dir: kinds.includes('ISDIR'), overflow: false };
  }
}

export interface WatcherOptions {
  /** How log lines name the watched replica, e.g. "initiator" or "target". */
  side: string;
  argv: string[];
  root: string;
  log: Logger;
  onEvents(events: WatchEvent[]): void;
  /** The watch is in place; `again` after it had been lost (changes may have been missed). */
  onEstablished(again: boolean): void;
  /** inotifywait is not installed where the watch runs; the watcher gives up. */
  onMissing(): void;
  /** The watcher process ended (before a retry is scheduled). */
  onExit?(): void;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

export class Watcher {
  private proc: LongLived | null = null;
  private stopped = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The watch was in place at least once, and is not now. */
  private lost = false;
  /** Failures in a row since the watch was last in place. */
  private failures = 0;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly o: WatcherOptions) {}

  start(): void {
    if (this.stopped) return;
    const parser = new EventParser(this.o.root);
    const errors: string[] = [];
    let established = false;
    const proc = startLongLived(this.o.argv, {
      onStdout: (chunk) => {
        const events = parser.push(chunk);
        if (events.length) this.o.onEvents(events);
      },
      onStderrLine: (line) => {
        if (line === 'Watches established.') {
          established = true;
          const again = this.lost || this.failures > 0;
          if (again) this.o.log.notice(`Watching the ${this.o.side} replica for changes again.`);
          this.lost = false;
          this.failures = 0;
          this.retryMs = FIRST_RETRY_MS;
          this.o.onEstablished(again);
        } else if (!line.startsWith('Setting up watches') && line.trim() !== '') {
          errors.push(line.trim());
          if (errors.length > 5) errors.shift();
        }
      },
    });
    this.proc = proc;
    this.done = proc.exited.then((exit) => {
      this.proc = null;
      if (this.stopped) return;
      if (exit.code === 127 && errors.some((e) => e.includes(WATCHER_MISSING))) {
        this.o.onMissing();
        this.o.onExit?.();
        return;
      }
      this.o.onExit?.();
      if (established) this.lost = true;
      this.failures++;
      const why = exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
      const detail = errors.length ? `: ${errors[errors.length - 1]}` : '';
      const line = `The watch on the ${this.o.side} replica stopped (${why}${detail}); watching again in ${Math.round(this.retryMs / 1000)} s.`;
      // The first failure of an outage is a warning; the retries that follow are not.
      if (this.failures === 1) this.o.log.warn(line);
      else this.o.log.notice(line);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.start();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    });
  }

  /** Stop watching; resolves once the watcher has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const p = this.proc;
    if (p) {
      p.closeInput();
      // The script stops when its input closes; a hung ssh does not, so also stop the tree.
      const t = setTimeout(() => p.stopTree(2000), 2000);
      await p.exited;
      clearTimeout(t);
    }
    await this.done;
  }

  /** pid of the running watcher process (tests, debug lines). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

/** For log lines: the watcher command as one string. */
export function describeArgv(argv: string[]): string {
  return quote(argv.map((a) => (a === WATCH_SCRIPT ? '<watch script>' : a)));
}
