// Reading an osync .conf (or a .env with the same keys) without running it.
//
// osync keeps every line that starts with `NAME=` and sources the result with bash.
// We never source anything. dotenv.parse decides which keys the file assigns (it drops
// `[SECTION]` headers and `#` comments, as osync's line filter does); each assignment's
// raw line is then decoded again with bash's quoting rules, which dotenv does not follow
// (dotenv turns "\n" into a newline, keeps `\"` escaped, cuts `a#b` at the `#`, and
// cannot tell a single-quoted value from a double-quoted one):
//   'single'   literal, no expansion
//   "double"   $VAR / ${VAR} / ${VAR:-word} expanded; \$ \" \\ \` escapes
//   unquoted   same expansion, backslash escapes any char, leading ~ → $HOME
// Variables resolve against keys assigned earlier in the same file, then the
// environment; unknown ones expand to the empty string, as in bash. Command
// substitution ($(...), `...`) is never run: it stays literal and a warning is returned.
import fs from 'node:fs';
import dotenv from 'dotenv';
import { ConfigError } from './types.js';

export interface ConfFile {
  /** Final value of every key assigned in the file (last assignment wins). */
  values: Record<string, string>;
  /** Keys in order of first assignment. */
  order: string[];
  /** Line (1-based) of each key's first assignment. */
  lines: Record<string, number>;
  warnings: string[];
}

const ASSIGN_CONF = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
// .env files are written for osync-ts: also allow indentation and `export NAME=`.
const ASSIGN_ENV = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/** Reads and decodes a config file. Throws ConfigError on values it cannot read safely. */
export function readConfFile(file: string, env: NodeJS.ProcessEnv): ConfFile {
  const text = fs.readFileSync(file, 'utf8');
  return parseConfText(text, env, { dotenvStyle: /\.env$/.test(file), source: file });
}

export function parseConfText(
  text: string,
  env: NodeJS.ProcessEnv,
  opts: { dotenvStyle?: boolean; source?: string } = {},
): ConfFile {
  const known = new Set(Object.keys(dotenv.parse(text)));
  const assign = opts.dotenvStyle ? ASSIGN_ENV : ASSIGN_CONF;
  const values: Record<string, string> = {};
  const order: string[] = [];
  const firstLine: Record<string, number> = {};
  const warnings: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, '');
    const m = assign.exec(line);
    if (!m) return;
    const key = m[1]!;
    // A line dotenv did not take as an assignment (e.g. the tail of a multi-line
    // quoted value) is not one for us either.
    if (!known.has(key)) return;
    const lookup = (name: string): string | undefined =>
      Object.prototype.hasOwnProperty.call(values, name) ? values[name] : env[name];
    const where = `${opts.source ?? 'config'}:${index + 1}`;
    const decoded = decodeValue(m[2]!, lookup, key, where);
    warnings.push(...decoded.warnings);
    if (!Object.prototype.hasOwnProperty.call(values, key)) {
      order.push(key);
      firstLine[key] = index + 1;
    }
    values[key] = decoded.value;
  });
  return { values, order, lines: firstLine, warnings };
}

interface Decoded {
  value: string;
  /** The whole value was one single-quoted string (no expansion happened). */
  singleQuoted: boolean;
  warnings: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Keys whose text never goes into a message (the messages below quote parts of values). */
const SECRET_KEYS = new Set(['SMTP_PASSWORD']);
const METACHARS = new Set([';', '&', '|', '<', '>', '(', ')']);

/**
 * Decodes the text after `KEY=` as one bash word followed by an optional comment.
 * Exported for tests.
 */
export function decodeValue(
  raw: string,
  lookup: (name: string) => string | undefined,
  key = 'value',
  where = 'config',
): Decoded {
  const warnings: string[] = [];
  let out = '';
  let i = 0;
  let sawSingle = false;
  let sawOther = false;
  const shown = (text: string) => (SECRET_KEYS.has(key) ? '(not shown)' : text);

  const commandSubst = (text: string) => {
    warnings.push(
      `Command substitution [${shown(text)}] in ${key} (${where}) is not executed by osync-ts; kept literally.`,
    );
  };

  /** Handles `$...` starting at raw[i] (raw[i] === '$'); returns the expansion. */
  const dollar = (): string => {
    const rest = raw.slice(i + 1);
    if (rest.startsWith('(')) {
      const end = matchParen(raw, i + 1);
      const text = raw.slice(i, end);
      commandSubst(text);
      i = end;
      return text;
    }
    if (rest.startsWith('{')) {
      const close = raw.indexOf('}', i + 2);
      if (close < 0) throw new ConfigError(`Unterminated \${ in value of ${key} (${where}).`, 1);
      const inner = raw.slice(i + 2, close);
      i = close + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?$/s.exec(inner);
      if (!m) {
        warnings.push(`Unsupported expansion [${shown(`\${${inner}}`)}] in ${key} (${where}); kept literally.`);
        return '${' + inner + '}';
      }
      const v = lookup(m[1]!);
      if (m[2] === ':-') return v === undefined || v === '' ? m[3]! : v;
      if (m[2] === '-') return v === undefined ? m[3]! : v;
      return v ?? '';
    }
    const name = NAME.exec(rest);
    if (name) {
      i += 1 + name[0].length;
      return lookup(name[0]) ?? '';
    }
    // `$` followed by something else ($1, $$, end of text): keep it.
    i += 1;
    return '$';
  };

  const backtick = (): string => {
    const close = raw.indexOf('`', i + 1);
    if (close < 0) throw new ConfigError(`Unterminated \` in value of ${key} (${where}).`, 1);
    const text = raw.slice(i, close + 1);
    commandSubst(text);
    i = close + 1;
    return text;
  };

  while (i < raw.length) {
    const c = raw[i]!;
    if (c === ' ' || c === '\t' || METACHARS.has(c)) break;
    if (c === "'") {
      const close = raw.indexOf("'", i + 1);
      if (close < 0) throw new ConfigError(`Unterminated ' in value of ${key} (${where}).`, 1);
      out += raw.slice(i + 1, close);
      i = close + 1;
      sawSingle = true;
      continue;
    }
    sawOther = true;
    if (c === '"') {
      i++;
      let closed = false;
      while (i < raw.length) {
        const d = raw[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < raw.length && '$`"\\'.includes(raw[i + 1]!)) {
          out += raw[i + 1];
          i += 2;
        } else if (d === '$') {
          out += dollar();
        } else if (d === '`') {
          out += backtick();
        } else {
          out += d;
          i++;
        }
      }
      if (!closed) throw new ConfigError(`Unterminated " in value of ${key} (${where}).`, 1);
      continue;
    }
    if (c === '\\') {
      if (i + 1 < raw.length) out += raw[i + 1];
      i += 2;
      continue;
    }
    if (c === '$') {
      out += dollar();
      continue;
    }
    if (c === '`') {
      out += backtick();
      continue;
    }
    if (c === '~' && i === 0 && (raw.length === 1 || raw[1] === '/' || /[\s;&|<>()]/.test(raw[1]!))) {
      out += lookup('HOME') ?? '~';
      i++;
      continue;
    }
    out += c;
    i++;
  }

  const tail = raw.slice(i).trim();
  if (tail !== '' && !tail.startsWith('#')) {
    throw new ConfigError(
      `Cannot read the value of ${key} (${where}): unexpected text [${shown(tail)}] after the value. Put values containing spaces or ; & | < > ( ) in quotes.`,
      1,
    );
  }
  return { value: out, singleQuoted: sawSingle && !sawOther, warnings };
}

/** Index just after the `)` matching the `(` at raw[open]; end of text if none. */
function matchParen(raw: string, open: number): number {
  let depth = 0;
  for (let j = open; j < raw.length; j++) {
    if (raw[j] === '(') depth++;
    else if (raw[j] === ')') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return raw.length;
}

/**
 * osync's CONFIG_FILE_REVISION read: the first line starting with the key, the text
 * after its last `=`, taken literally (quotes are not removed).
 */
export function rawRevision(text: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('CONFIG_FILE_REVISION=')) {
      return line.slice(line.lastIndexOf('=') + 1).trim();
    }
  }
  return undefined;
}
