// A real SMTP receiver on 127.0.0.1 (smtp-server), collecting every message.
//
//   const smtp = await startSmtp({ user: 'u', password: 'p' });   // auth optional
//   ... run osync-ts with SMTP_SERVER=127.0.0.1 SMTP_PORT=smtp.port ...
//   const m = await smtp.waitFor(1);   // [{ from, to, subject, body, headers, raw }]
//   await smtp.stop();
//
// Messages are parsed here (headers, quoted-printable/base64 body, charset via
// TextDecoder), since mailparser is not installed.
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Envelope sender and recipients (MAIL FROM / RCPT TO). */
  from: string;
  to: string[];
  headers: Map<string, string>;
  subject: string;
  /** Decoded body text (Content-Transfer-Encoding and charset undone). */
  body: string;
  /** The charset named in Content-Type ('' when none). */
  charset: string;
  /** Raw message bytes. */
  raw: Buffer;
  /** AUTH user, when the client logged in. */
  authUser?: string;
  /** The message came over TLS (STARTTLS or implicit). */
  secure: boolean;
}

export interface TestSmtp {
  port: number;
  messages: ReceivedMail[];
  /** Resolves once at least n messages arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

/** The self-signed certificate (for 127.0.0.1) the receiver uses with `tls`: a client
 *  trusts it with NODE_EXTRA_CA_CERTS=TEST_CERT. */
export const TEST_CERT = fileURLToPath(new URL('../fixtures/smtp-test.crt', import.meta.url));
const TEST_KEY = fileURLToPath(new URL('../fixtures/smtp-test.key', import.meta.url));

export async function startSmtp(opts: { user?: string; password?: string; tls?: 'starttls' | 'implicit' } = {}): Promise<TestSmtp> {
  const messages: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  const disabled = [...(opts.tls === 'starttls' ? [] : ['STARTTLS']), ...(opts.user ? [] : ['AUTH'])];
  const server = new SMTPServer({
    secure: opts.tls === 'implicit',
    ...(opts.tls ? { key: fs.readFileSync(TEST_KEY), cert: fs.readFileSync(TEST_CERT) } : {}),
    disabledCommands: disabled,
    authOptional: !opts.user,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.password) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address);
        messages.push({ ...parseMessage(raw), from: envelopeFrom, to, raw, authUser: session.user as string | undefined, secure: !!session.secure });
        for (const w of waiters.splice(0)) w();
        cb();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as net.AddressInfo).port));
  });
  return {
    port,
    messages,
    waitFor(n, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${n} mails arrived`)), timeoutMs);
        const check = () => {
          if (messages.length >= n) {
            clearTimeout(timer);
            resolve(messages);
          } else waiters.push(check);
        };
        check();
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Minimal RFC 5322 / MIME parsing for single-part text messages. */
export function parseMessage(raw: Buffer): Omit<ReceivedMail, 'from' | 'to' | 'raw' | 'authUser' | 'secure'> {
  const text = raw.toString('latin1');
  const sep = text.search(/\r?\n\r?\n/);
  const head = sep < 0 ? text : text.slice(0, sep);
  const bodyRaw = sep < 0 ? '' : text.slice(sep).replace(/^\r?\n\r?\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.split(/\r?\n(?![ \t])/)) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).replace(/\r?\n[ \t]/g, ' ').trim());
  }
  const ctype = headers.get('content-type') ?? '';
  const charset = /charset="?([^";\s]+)"?/i.exec(ctype)?.[1] ?? '';
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  let bytes: Buffer;
  if (cte === 'quoted-printable') {
    const soft = bodyRaw.replace(/=\r?\n/g, '');
    bytes = Buffer.from(soft.replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  } else if (cte === 'base64') {
    bytes = Buffer.from(bodyRaw.replace(/\s+/g, ''), 'base64');
  } else {
    bytes = Buffer.from(bodyRaw, 'latin1');
  }
  let body: string;
  try {
    body = new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    body = bytes.toString('utf8');
  }
  return { headers, subject: decodeWords(headers.get('subject') ?? ''), body: body.replace(/\r\n/g, '\n'), charset };
}

/** RFC 2047 encoded words (=?utf-8?Q?...?= / =?utf-8?B?...?=). */
function decodeWords(s: string): string {
  return s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, cs: string, enc: string, data: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(data, 'base64')
          : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      try {
        return new TextDecoder(cs).decode(bytes);
      } catch {
        return bytes.toString('utf8');
      }
    });
}
