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
// How, as osync on Linux: the first local mailer found that accepts the mail, in osync's
// order: `mutt -x -s SUBJECT a,b`, `mail -s SUBJECT a b`, `sendmail -t -i [-f SENDER]`
// (a whole RFC 5322 message); SMTP_SERVER (nodemailer) only when none of them is installed
// or all failed. (osync's own sample config names a placeholder SMTP server that osync.sh
// never uses on Linux: it must not stand in the way.) MAIL_TRANSPORT=smtp (osync-ts) puts
// SMTP_SERVER first, the local mailers then being the fallback. A mail failure is logged
// (WARN while another way is left, ERROR for the last) and never changes the exit code (the
// caller decides the code before sending). The SMTP password is never logged: see
// describeSmtpError.
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
  const ways = mailWays(ctx, from, to, mail.subject, body);
  if (!ways.length) {
    log.error('Cannot send mail (neither mutt, mail nor sendmail could be found, and SMTP_SERVER is not set).');
    return false;
  }
  for (let i = 0; i < ways.length; i++) {
    let failure: string;
    try {
      failure = await ways[i].send();
    } catch (e) {
      failure = (e as Error).message;
    }
    if (!failure) return true;
    const line = `Cannot send mail using ${ways[i].name}: ${failure}`;
    if (i < ways.length - 1) log.warn(`${line} Trying ${ways[i + 1].name}.`);
    else log.error(line);
  }
  return false;
}

interface MailWay {
  name: string;
  /** Sends; '' when sent (and logged), else why not. */
  send: () => Promise<string>;
}

/** The ways to send, in the order to try them (see the top of this file). */
function mailWays(ctx: AlertContext, from: string, to: string[], subject: string, body: EncodedBody): MailWay[] {
  const { config, log, runner } = ctx;
  const local: MailWay[] = [];
  const program = async (argv: string[], input: Buffer | Promise<Buffer>, sent: string): Promise<string> => {
    const r = await runner.run(argv, { input: await input, timeoutMs: 60_000 });
    if (r.exitCode === 0) {
      log.notice(sent);
      return '';
    }
    return `exit code [${r.exitCode}]. ${r.stderr.trim().split('\n')[0] ?? ''}`.trim();
  };
  const mutt = findProgram('mutt', ctx.pathEnv, []);
  if (mutt) local.push({ name: `mutt [${mutt}]`, send: () => program([mutt, '-x', '-s', subject, to.join(',')], body.buffer, 'Sent mail using mutt.') });
  const mailCmd = findProgram('mail', ctx.pathEnv, []);
  if (mailCmd) local.push({ name: `mail [${mailCmd}]`, send: () => program([mailCmd, '-s', subject, ...to], body.buffer, 'Sent mail using mail command.') });
  const sendmail = findProgram('sendmail', ctx.pathEnv, ['/usr/sbin/sendmail', '/usr/lib/sendmail']);
  if (sendmail) {
    const argv = [sendmail, '-t', '-i', ...(config.senderMail ? ['-f', config.senderMail] : [])];
    local.push({ name: `sendmail [${sendmail}]`, send: () => program(argv, compose(from, to, subject, body), 'Sent mail using sendmail command.') });
  }
  if (!config.smtpServer) return local;
  const smtp: MailWay = { name: `SMTP server [${config.smtpServer}:${config.smtpPort || 25}]`, send: () => viaSmtp(ctx, from, to, subject, body) };
  return config.mailTransport === 'smtp' ? [smtp, ...local] : [...local, smtp];
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

async function viaSmtp(ctx: AlertContext, from: string, to: string[], subject: string, body: EncodedBody): Promise<string> {
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
  try {
    await transport.sendMail(message(from, to, subject, body));
    log.notice(`Sent mail using SMTP server [${config.smtpServer}:${port}].`);
    return '';
  } catch (e) {
    return describeSmtpError(e as Error, config.smtpUser, config.smtpPassword);
  } finally {
    transport.close();
  }
}

/** An SMTP failure as one line for the log. nodemailer's messages quote the server's
 *  reply, never the credentials we send; should a server echo them back, the password
 *  (as a whole word) and the base64 forms AUTH PLAIN and AUTH LOGIN send it in are cut
 *  out. Whole words only: masking a short password's every occurrence would mask, say,
 *  every letter "e" of the line, and show which letter the password is. */
export function describeSmtpError(e: Error, user: string, password: string): string {
  let text = e.message.replace(/\s+/g, ' ').trim();
  if (!password) return text;
  const b64 = (t: string) => Buffer.from(t, 'utf8').toString('base64');
  for (const form of [b64(`\0${user}\0${password}`), b64(`${user}\0${user}\0${password}`), b64(password)]) {
    text = text.split(form).join('__o_O__');
  }
  const word = new RegExp(`(^|[\\s\\[\\]<>()"':;,=])${password.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=$|[\\s\\[\\]<>()"':;,.])`, 'g');
  return text.replace(word, '$1__o_O__');
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
