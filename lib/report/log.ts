// osync's log: one line per message, in the log file and on the screen.
// File line:   <prefix><tag><message>   e.g. "TIME: 3 - (WARN):Something"
// Screen line: <prefix><message>, WARN/ERROR/CRITICAL on stderr (in colour when
// lib/ui/terminal.ts says so). The log file never holds colour codes.
// The logger also remembers the worst level seen, which decides the exit code.
import fs from 'node:fs';
import path from 'node:path';
import { Chalk } from 'chalk';

export type Level = 'DEBUG' | 'VERBOSE' | 'NOTICE' | 'ALWAYS' | 'WARN' | 'ERROR' | 'CRITICAL';

const TAGS: Record<Level, string> = {
  DEBUG: '',
  VERBOSE: '(VERBOSE):',
  NOTICE: '',
  ALWAYS: '',
  WARN: '(WARN):',
  ERROR: '(ERROR):',
  CRITICAL: '(CRITICAL):',
};

// osync's colours (basic ones), used only when the screen lines are coloured (opts.colour):
// osync colours them even in cron mail; here cron mail and journald get plain text.
const paint = new Chalk({ level: 1 });
const COLOURS: Partial<Record<Level, (text: string) => string>> = {
  WARN: paint.yellow,
  ERROR: paint.redBright,
  CRITICAL: paint.bold.yellow.bgRed,
};

export interface LoggerOptions {
  silent?: boolean;
  verbose?: boolean;
  errorsOnly?: boolean;
  noPrefix?: boolean;
  /** `YYYY-MM-DD HH:MM:SS - ` instead of `TIME: n - ` (the monitor's own lines, as osync). */
  datePrefix?: boolean;
  debug?: boolean;
  /** Colour WARN/ERROR/CRITICAL screen lines (lib/ui/terminal.ts decides). */
  colour?: boolean;
  /** Milliseconds since epoch at which the run started (TIME: n counts from it). */
  startedAt?: number;
}

/** Where screen lines go; the UI swaps this while listr2 owns the terminal. */
export interface ScreenSink {
  out(line: string): void;
  err(line: string): void;
}

export const consoleSink: ScreenSink = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** `YYYY-MM-DD HH:MM:SS` in local time. */
export function localDateTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Secrets never reach the log: each registered string is replaced before writing. */
const REDACTED = '__o_O__';

export class Logger {
  private fileFd: number | null = null;
  private filePath = '';
  private readonly secrets: string[] = [];
  /** This run's file lines, for the alert mail body. */
  readonly runLines: string[] = [];
  warned = false;
  errored = false;
  screen: ScreenSink = consoleSink;

  constructor(public opts: LoggerOptions = {}) {
    this.opts.startedAt ??= Date.now();
  }

  /** Open (append, mode 0600) the log file; returns an error text when it cannot be written. */
  openFile(file: string): string | null {
    this.closeFile();
    try {
      this.fileFd = fs.openSync(file, 'a', 0o600);
      this.filePath = file;
      return null;
    } catch {
      this.fileFd = null;
      this.filePath = file;
      return `Cannot write to log [${path.dirname(file)}].`;
    }
  }

  get logFile(): string {
    return this.filePath;
  }

  closeFile(): void {
    if (this.fileFd !== null) fs.closeSync(this.fileFd);
    this.fileFd = null;
  }

  addSecret(secret: string): void {
    if (secret) this.secrets.push(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(REDACTED);
    return out;
  }

  private prefix(): string {
    if (this.opts.noPrefix) return '';
    if (this.opts.datePrefix) return `${localDateTime(new Date())} - `;
    const seconds = Math.floor((Date.now() - (this.opts.startedAt ?? Date.now())) / 1000);
    return `TIME: ${seconds} - `;
  }

  /** Write one message; `bare` lines (summary blocks) carry no prefix, as osync's. */
  log(level: Level, message: string, bare = false): void {
    if (level === 'WARN') this.warned = true;
    if (level === 'ERROR' || level === 'CRITICAL') this.errored = true;
    const o = this.opts;
    if (level === 'DEBUG' && !o.debug) return;
    if (level === 'VERBOSE' && !(o.verbose || o.debug)) return;
    const text = this.redact(message);
    const prefix = bare ? '' : this.prefix();
    if (!(level === 'NOTICE' && o.errorsOnly)) {
      const fileLine = prefix + TAGS[level] + text;
      this.runLines.push(fileLine);
      if (this.fileFd !== null) {
        try {
          fs.writeSync(this.fileFd, fileLine + '\n');
        } catch {
          /* a full disk must not stop the sync; the screen still shows it */
        }
      }
    }
    if (o.silent) return;
    if (level === 'NOTICE' && o.errorsOnly) return;
    const colour = o.colour ? COLOURS[level] : undefined;
    const toErr = level === 'WARN' || level === 'ERROR' || level === 'CRITICAL';
    const line = colour ? colour(prefix + text) : prefix + text;
    try {
      if (toErr) this.screen.err(line);
      else this.screen.out(line);
    } catch {
      // The display is never the reason a run fails: plain lines from here on.
      this.screen = consoleSink;
      if (toErr) this.screen.err(line);
      else this.screen.out(line);
    }
  }

  /** A line for the log file only (e.g. a stack trace at --verbose), never on screen. */
  fileOnly(message: string): void {
    const fileLine = this.prefix() + TAGS.VERBOSE + this.redact(message);
    this.runLines.push(fileLine);
    if (this.fileFd === null) return;
    try {
      fs.writeSync(this.fileFd, fileLine + '\n');
    } catch {
      /* as in log() */
    }
  }

  debug(m: string): void { this.log('DEBUG', m); }
  verbose(m: string): void { this.log('VERBOSE', m); }
  notice(m: string): void { this.log('NOTICE', m); }
  always(m: string, bare = false): void { this.log('ALWAYS', m, bare); }
  warn(m: string): void { this.log('WARN', m); }
  error(m: string): void { this.log('ERROR', m); }
  critical(m: string): void { this.log('CRITICAL', m); }

  /** osync's exit code: 1 after any ERROR/CRITICAL, 2 after warnings only, else 0. */
  exitCode(): number {
    return this.errored ? 1 : this.warned ? 2 : 0;
  }
}
