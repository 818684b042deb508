// Mail alerts (osync §10).
//
// When: nothing is sent when DESTINATION_MAILS is empty or _DEBUG=true (as osync).
//   end of run, errors         → "Finished run - Error alert for <ID>"
//   end of run, warnings only  → "Finished run - Warning alert for <ID>"
//   end of run, clean + ALWAYS_SEND_MAILS → "Finished run - Alert for <ID>"
//   soft/hard time limit hit   → "Currently running - Warning|Error alert for <ID>"
//   ALERT_CONFLICTS + conflicts → "Conflictual files found in [<ID>]"
// Body: one sentence naming the instance and the start date, then the last 1000
// lines of THIS run's log (osync attaches the whole log file of all runs instead;
// no attachment here).
// How: SMTP with nodemailer when SMTP_SERVER is set; else the local `sendmail -t`;
// else `mail -s`; else ERROR. A mail failure is logged and never changes the exit
// code (the caller decides the code before sending). The SMTP password is a logger
// secret, so it never reaches the log even inside an error message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type nodemailer from 'nodemailer';

// Loaded on first use: a run that sends no mail does not pay for it at start-up.
const mailer = async () => (await import('nodemailer')).default;
import type { Config, RunFlags } from '../config/types.js';
import type { Runner } from '../proc/run.js';
import type { Logger } from './log.js';

export interface AlertContext {
  config: Config;
  flags: RunFlags;
  log: Logger;
  runner: Runner;
  /** Start of the run (named in the body). */
  startedAt: Date;
  /** `date`-style rendering of a Date. */
  formatDate: (d: Date) => string;
  /** PATH used to find sendmail/mail (defaults to process.env.PATH). */
  pathEnv?: string;
}

export interface Mail {
  subject: string;
  body: string;
}

const LAST_LINES = 1000;

export type RunResultKind = 'error' | 'warning' | 'clean';

/** The end-of-run mail, or null when none is due. */
export function finishedRunMail(ctx: AlertContext, kind: RunResultKind): Mail | null {
  const { config } = ctx;
  if (kind === 'clean' && !config.alwaysSendMails) return null;
  const id = config.instanceId;
  const subject =
    kind === 'error' ? `Finished run - Error alert for ${id}` : kind === 'warning' ? `Finished run - Warning alert for ${id}` : `Finished run - Alert for ${id}`;
  const state = kind === 'error' ? 'has errors' : kind === 'warning' ? 'has warnings' : 'finished without warnings or errors';
  return { subject, body: logBody(ctx, `Execution of osync instance ${id} on ${ctx.formatDate(ctx.startedAt)} ${state}.`) };
}

/** The mail osync sends while a time limit is exceeded. */
export function currentlyRunningMail(ctx: AlertContext, kind: 'error' | 'warning'): Mail {
  const id = ctx.config.instanceId;
  const subject = `Currently running - ${kind === 'error' ? 'Error' : 'Warning'} alert for ${id}`;
  const state = kind === 'error' ? 'exceeded its hard time limit and is being stopped' : 'exceeded its soft time limit and is still running';
  return { subject, body: logBody(ctx, `Execution of osync instance ${id} on ${ctx.formatDate(ctx.startedAt)} ${state}.`) };
}

export function conflictsMail(ctx: AlertContext, conflicts: string[]): Mail {
  return {
    subject: `Conflictual files found in [${ctx.config.instanceId}]`,
    body: `Truncated list of conflictual files:\n${conflicts.slice(0, LAST_LINES).join('\n')}\n`,
  };
}

function logBody(ctx: AlertContext, sentence: string): string {
  return `${sentence}\n\nLast ${LAST_LINES} lines of current log\n\n${ctx.log.runLines.slice(-LAST_LINES).join('\n')}\n`;
}

/** True when mails are configured at all (osync: DESTINATION_MAILS set and not _DEBUG). */
export function mailsEnabled(ctx: AlertContext): boolean {
  return ctx.config.destinationMails.length > 0 && !ctx.flags.debug;
}

const ADDRESS = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/;

/** Sends one mail; logs the outcome; never throws. Returns true when sent. */
export async function sendMail(ctx: AlertContext, mail: Mail): Promise<boolean> {
  const { config, log } = ctx;
  if (!mailsEnabled(ctx)) return false;
  const to = config.destinationMails.filter((a) => {
    if (ADDRESS.test(a)) return true;
    log.warn(`Given email [${a}] does not seem to be valid.`);
    return false;
  });
  if (!to.length) {
    log.error(`Cannot send mail [${mail.subject}]: no valid address in DESTINATION_MAILS.`);
    return false;
  }
  const from = config.senderMail || `osync@${os.hostname()}`;
  const body = encodeBody(ctx, mail.body);
  try {
    if (config.smtpServer) return await viaSmtp(ctx, from, to, mail.subject, body);
    const raw = await compose(from, to, mail.subject, body);
    const sendmail = findProgram('sendmail', ctx.pathEnv, ['/usr/sbin/sendmail', '/usr/lib/sendmail']);
    if (sendmail) {
      const r = await ctx.runner.run([sendmail, '-t', '-i', ...(config.senderMail ? ['-f', config.senderMail] : [])], { input: raw, timeoutMs: 60_000 });
      if (r.exitCode === 0) {
        log.notice('Sent mail using sendmail command.');
        return true;
      }
      log.error(`Cannot send mail using sendmail [${sendmail}]: exit code [${r.exitCode}]. ${r.stderr.trim()}`);
    }
    const mailCmd = findProgram('mail', ctx.pathEnv, []);
    if (mailCmd) {
      const r = await ctx.runner.run([mailCmd, '-s', mail.subject, ...to], { input: body.buffer, timeoutMs: 60_000 });
      if (r.exitCode === 0) {
        log.notice('Sent mail using mail command.');
        return true;
      }
      log.error(`Cannot send mail using mail [${mailCmd}]: exit code [${r.exitCode}]. ${r.stderr.trim()}`);
    }
    if (!sendmail && !mailCmd) log.error('Cannot send mail (neither SMTP_SERVER is set nor sendmail or mail could be found).');
    return false;
  } catch (e) {
    log.error(`Cannot send mail [${mail.subject}]: ${(e as Error).message}`);
    return false;
  }
}

interface EncodedBody {
  buffer: Buffer;
  charset: string;
}

/** Nodemailer message in RFC 5322 form (for sendmail -t). */
async function compose(from: string, to: string[], subject: string, body: EncodedBody): Promise<Buffer> {
  const t = (await mailer()).createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const info = await t.sendMail(message(from, to, subject, body));
  return info.message as Buffer;
}

function message(from: string, to: string[], subject: string, body: EncodedBody): nodemailer.SendMailOptions {
  // A single alternative becomes the body with our own Content-Type, so the
  // charset can be something other than nodemailer's fixed utf-8.
  return {
    from,
    to,
    subject,
    headers: { 'X-Mailer': 'osync-ts' },
    alternatives: [{ contentType: `text/plain; charset=${body.charset}`, content: body.buffer }],
  };
}

async function viaSmtp(ctx: AlertContext, from: string, to: string[], subject: string, body: EncodedBody): Promise<boolean> {
  const { config, log } = ctx;
  let port = config.smtpPort;
  if (!port) {
    log.warn('No SMTP port given, using 25.');
    port = 25;
  }
  const enc = config.smtpEncryption;
  const transport = (await mailer()).createTransport({
    host: config.smtpServer,
    port,
    secure: enc === 'ssl',
    requireTLS: enc === 'tls',
    ignoreTLS: enc === 'none',
    auth: config.smtpUser ? { user: config.smtpUser, pass: config.smtpPassword } : undefined,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    // A cron job has no one to accept a self-signed certificate: the system CAs decide.
  });
  const where = `${config.smtpServer}:${port}`;
  try {
    await transport.sendMail(message(from, to, subject, body));
    log.notice(`Sent mail using SMTP server [${where}].`);
    return true;
  } catch (e) {
    log.error(`Cannot send mail using SMTP server [${where}]: ${(e as Error).message}`);
    return false;
  } finally {
    transport.close();
  }
}

function findProgram(name: string, pathEnv: string | undefined, extra: string[]): string | null {
  const dirs = (pathEnv ?? process.env.PATH ?? '').split(':').filter(Boolean);
  for (const c of [...dirs.map((d) => path.join(d, name)), ...extra]) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* next */
    }
  }
  return null;
}

/** WHATWG single-byte encodings: TextDecoder knows them, so a reverse table encodes. */
const SINGLE_BYTE = new Set([
  'ibm866', 'iso-8859-2', 'iso-8859-3', 'iso-8859-4', 'iso-8859-5', 'iso-8859-6', 'iso-8859-7', 'iso-8859-8',
  'iso-8859-8-i', 'iso-8859-10', 'iso-8859-13', 'iso-8859-14', 'iso-8859-15', 'iso-8859-16', 'koi8-r', 'koi8-u',
  'macintosh', 'windows-874', 'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253', 'windows-1254',
  'windows-1255', 'windows-1256', 'windows-1257', 'windows-1258', 'x-mac-cyrillic',
]);

/**
 * Encodes the body in MAIL_BODY_CHARSET: UTF-8, US-ASCII, UTF-16LE and every
 * single-byte charset Node's TextDecoder knows (ISO-8859-x, windows-125x, KOI8-R,
 * …); characters the charset lacks become `?`. Other charsets: WARN, UTF-8.
 */
export function encodeBody(ctx: Pick<AlertContext, 'config' | 'log'>, text: string): EncodedBody {
  const wanted = ctx.config.mailBodyCharset.trim();
  if (wanted === '') return { buffer: Buffer.from(text, 'utf8'), charset: 'utf-8' };
  const lower = wanted.toLowerCase();
  if (lower === 'us-ascii' || lower === 'ascii') {
    return { buffer: Buffer.from(text.replace(/[^\x00-\x7f]/gu, '?'), 'latin1'), charset: 'us-ascii' };
  }
  let canonical = '';
  try {
    canonical = new TextDecoder(lower).encoding;
  } catch {
    canonical = '';
  }
  if (canonical === 'utf-8') return { buffer: Buffer.from(text, 'utf8'), charset: 'utf-8' };
  if (canonical === 'utf-16le') return { buffer: Buffer.from(text, 'utf16le'), charset: 'utf-16le' };
  if (SINGLE_BYTE.has(canonical)) {
    const decoder = new TextDecoder(lower);
    const table = new Map<string, number>();
    for (let b = 255; b >= 0; b--) {
      const ch = decoder.decode(Uint8Array.of(b));
      if (ch !== '\ufffd') table.set(ch, b);
    }
    const out: number[] = [];
    for (const ch of text) out.push(table.get(ch) ?? 0x3f);
    return { buffer: Buffer.from(out), charset: wanted };
  }
  ctx.log.warn(`Cannot encode mail body in charset [${wanted}], sending it as UTF-8.`);
  return { buffer: Buffer.from(text, 'utf8'), charset: 'utf-8' };
}
