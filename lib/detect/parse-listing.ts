// Parse `rsync --list-only -8` output into entries. Pure.
//
// A path is kept exactly as rsync renders it (osync's tree files hold the same
// text): relative, no trailing slash, control bytes as \#ooo and a backslash that
// precedes #ooo as \#134. Text is latin1-decoded so every byte survives 1:1.
// Sizes and times come from the listing; rsync runs with TZ=UTC so the time is UTC.

/** File, directory, symlink, or special file (fifo, socket, device: synced and tracked,
 *  compared by kind and mtime; a device's numbers are not in the listing). */
export type EntryType = 'f' | 'd' | 'l' | 's';

export interface Entry {
  type: EntryType;
  /** Bytes (files), target length (links); 0 for directories. */
  size: number;
  /** Epoch seconds. */
  mtime: number;
  /** The ten-character mode string, e.g. "-rw-r--r--"; a special file's first character
   *  says which kind it is, as rsync itemises it: 'S' fifo or socket, 'D' device. */
  mode: string;
  /** Symlink target, rendered like a path. */
  target?: string;
  /** Numeric owner and group on the replica's own host (unknown when absent). */
  uid?: number;
  gid?: number;
}

export type Listing = Map<string, Entry>;

const LINE = /^([dlpscb-][rwxsStT-]{9})[.+]?\s+([\d,]+) (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) (.*)$/s;

/** Length in bytes of a rendered path once its \#ooo escapes are decoded. */
export function renderedByteLength(rendered: string): number {
  let n = 0;
  for (let i = 0; i < rendered.length; i++) {
    if (rendered[i] === '\\' && rendered[i + 1] === '#' && /^[0-7]{3}$/.test(rendered.slice(i + 2, i + 5))) i += 4;
    n++;
  }
  return n;
}

/** One listing line → [path, entry], or null for lines that are not tracked (the root
 *  ".", rsync chatter; a device, whose size column is "major, minor"). */
export function parseListingLine(line: string): [string, Entry] | null {
  const m = LINE.exec(line);
  if (!m) return null;
  let mode = m[1];
  const type: EntryType = mode[0] === '-' ? 'f' : mode[0] === 'd' || mode[0] === 'l' ? mode[0] : 's';
  // A special's kind as the dry-run listing itemises it ('S' fifo/socket, 'D' device), so
  // that both parsers give the same entry.
  if (type === 's') mode = (mode[0] === 'c' || mode[0] === 'b' ? 'D' : 'S') + mode.slice(1);
  const size = Number(m[2].replace(/,/g, ''));
  const mtime = Date.UTC(+m[3], +m[4] - 1, +m[5], +m[6], +m[7], +m[8]) / 1000;
  return named(m[9], { type, size: type === 'd' ? 0 : size, mtime, mode });
}

/** The listed name → [path, entry]: a symlink's " -> target" split off, the root dropped. */
function named(name: string, entry: Entry): [string, Entry] | null {
  if (entry.type === 'l') {
    const cut = symlinkCut(name, entry.size);
    if (cut >= 0) {
      entry.target = name.slice(cut + 4);
      name = name.slice(0, cut);
    }
  }
  if (name === '.' || name === '') return null;
  return [name, entry];
}

// uid and gid read DEFAULT where the listing does not carry them (PRESERVE_OWNER/GROUP=false).
const ITEM_LINE = /^[.<>ch*][fdLDS]\S{9} ([rwxsStT-]{9}) (\d+|DEFAULT) (\d+|DEFAULT) (\d+) (\d{4})\/(\d\d)\/(\d\d)-(\d\d):(\d\d):(\d\d) (.*)$/s;
const ITEM_TYPES: Record<string, EntryType | undefined> = { f: 'f', d: 'd', L: 'l', D: 's', S: 's' };

/** Whether a dry-run listing line (or a state line that is one) names a special file. */
export function isSpecialItemLine(line: string): boolean {
  return ITEM_TYPES[line[1]] === 's';
}

/** One line of the dry-run listing (lib/proc/rsync.ts LISTING_FORMAT) → [path, entry],
 *  or null for what is not tracked (the root, rsync chatter). */
export function parseItemLine(line: string): [string, Entry] | null {
  return parseItemLineFast(line) ?? parseItemLineByRegex(line);
}

/** Lookup tables by char code (a listing is scanned char by char, 100k lines at a time). */
function charTable(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
}
const PERM_CHARS = charTable('rwxsStT-');
const ITEM_FIRST = charTable('.<>ch*');
const TYPE_CHARS = charTable('fdLDS');

/**
 * The same parse as parseItemLineByRegex for the usual line, by position and without a
 * regex or substrings (a 100k-file listing is parsed in a fraction of the time).
 * undefined: not a file/dir/link/special line of the expected shape; the regex decides.
 *   ">f+++++++++ rw-r--r-- UID GID SIZE YYYY/MM/DD-hh:mm:ss NAME"
 */
function parseItemLineFast(line: string): [string, Entry] | null | undefined {
  const nums = [0, 0, 0];
  const i = scanItemLine(line, nums);
  if (i < 0) return undefined;
  const type = ITEM_TYPES[line[1]]!;
  const d = (at: number) => (line.charCodeAt(i + at) - 48) * 10 + line.charCodeAt(i + at + 1) - 48;
  const name = line.slice(i + 20);
  const entry: Entry = {
    type,
    size: type === 'd' ? 0 : nums[2],
    mtime: Date.UTC(d(0) * 100 + d(2), d(5) - 1, d(8), d(11), d(14), d(17)) / 1000,
    mode: modeChar(type, line[1]) + line.slice(12, 21),
    uid: nums[0],
    gid: nums[1],
  };
  return named(type === 'd' && name.endsWith('/') ? name.slice(0, -1) : name, entry);
}

/** Check a line's shape; the index where its date starts (the name starts 20 later), with
 *  uid, gid and size in `nums`; -1 when it is not a file/dir/link/special line. */
function scanItemLine(line: string, nums: number[]): number {
  if (line.length < 44 || TYPE_CHARS[line.charCodeAt(1) & 255] !== 1 || ITEM_FIRST[line.charCodeAt(0) & 255] !== 1) return -1;
  if (line.charCodeAt(11) !== 32 || line.charCodeAt(21) !== 32) return -1;
  for (let k = 2; k < 11; k++) if (line.charCodeAt(k) === 32) return -1;
  for (let k = 12; k < 21; k++) if (PERM_CHARS[line.charCodeAt(k) & 255] !== 1) return -1;
  // uid, gid, size: digits, each followed by one space
  let i = 22;
  for (let f = 0; f < 3; f++) {
    const start = i;
    let n = 0;
    let c = line.charCodeAt(i);
    while (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      c = line.charCodeAt(++i);
    }
    if (i === start || c !== 32) return -1;
    nums[f] = n;
    i++;
  }
  // YYYY/MM/DD-hh:mm:ss: digits where digits go, separators where they go
  for (let k = 0; k < 19; k++) {
    const c = line.charCodeAt(i + k);
    if (DATE_SHAPE[k] === 0 ? c < 48 || c > 57 : c !== DATE_SHAPE[k]) return -1;
  }
  return line.charCodeAt(i + 19) === 32 ? i : -1;
}

/** The path of a dry-run listing line, as parseItemLine gives it, without the rest of
 *  the entry (null where parseItemLine gives null). */
export function itemLinePath(line: string): string | null {
  const i = scanItemLine(line, scratch);
  if (i < 0) return parseItemLine(line)?.[0] ?? null;
  const type = line[1];
  let name: string;
  if (type === 'd') name = line.slice(i + 20, line.charCodeAt(line.length - 1) === 47 ? -1 : line.length);
  else {
    name = line.slice(i + 20);
    if (type === 'L') {
      const cut = symlinkCut(name, scratch[2]);
      if (cut >= 0) name = name.slice(0, cut);
    }
  }
  return name === '.' || name === '' ? null : name;
}
const scratch = [0, 0, 0];

/** "YYYY/MM/DD-hh:mm:ss": 0 where a digit goes, else the separator's char code. */
const DATE_SHAPE = [...'0000/00/00-00:00:00'].map((c) => (c === '0' ? 0 : c.charCodeAt(0)));

/** The first character of an entry's mode string: '-' for a file, 'D'/'S' as itemised for a special. */
function modeChar(type: EntryType, itemised: string): string {
  return type === 'f' ? '-' : type === 's' ? itemised : type;
}

/** The reference parse (also the fallback for any line of another shape). */
export function parseItemLineByRegex(line: string): [string, Entry] | null {
  const m = ITEM_LINE.exec(line);
  if (!m) return null;
  const type = ITEM_TYPES[line[1]];
  if (!type) return null;
  const size = Number(m[4]);
  const entry: Entry = {
    type,
    size: type === 'd' ? 0 : size,
    mtime: Date.UTC(+m[5], +m[6] - 1, +m[7], +m[8], +m[9], +m[10]) / 1000,
    mode: modeChar(type, line[1]) + m[1],
    uid: m[2] === 'DEFAULT' ? undefined : Number(m[2]),
    gid: m[3] === 'DEFAULT' ? undefined : Number(m[3]),
  };
  return named(type === 'd' ? m[11].replace(/\/$/, '') : m[11], entry);
}

/** The listing line an entry was parsed from: the state files store an entry that is
 *  still exactly as listed by writing that line back. A hidden property (not enumerable:
 *  a copy of an entry made elsewhere, `{ ...e }`, is a new entry without it, and tests
 *  comparing entries do not see it). Not a WeakMap: that costs ~0.7 µs an entry, a
 *  quarter of a second for the 400k entries of a run that parses everything. */
const LISTED_LINE = Symbol('listed line');

export function setListedLine(e: Entry, line: string): void {
  Object.defineProperty(e, LISTED_LINE, { value: line, configurable: true });
}

export function listedLine(e: Entry): string | undefined {
  return (e as Entry & { [LISTED_LINE]?: string })[LISTED_LINE];
}

/** Parse a whole dry-run listing text. */
export function parseItemListing(text: string): Listing {
  return parseItemLines(text.split('\n'));
}

/** Parse dry-run listing lines. */
export function parseItemLines(lines: string[]): Listing {
  const out: Listing = new Map();
  for (const line of lines) {
    const parsed = parseItemLine(line);
    if (!parsed) continue;
    out.set(parsed[0], parsed[1]);
    setListedLine(parsed[1], line);
  }
  return out;
}

const ITEM_OF: Record<Exclude<EntryType, 's'>, string> = { f: '>f+++++++++', d: 'cd+++++++++', l: 'cL+++++++++' };

/** An entry as a dry-run listing line (the inverse of parseItemLine; an unknown
 *  uid/gid is written as 0: the caller marks it). */
export function itemLine(path: string, e: Entry): string {
  const d = new Date(e.mtime * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${p(d.getUTCFullYear(), 4)}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}-${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  const name = e.type === 'd' ? `${path}/` : e.type === 'l' && e.target !== undefined ? `${path} -> ${e.target}` : path;
  const item = e.type === 's' ? `c${e.mode[0] === 'D' ? 'D' : 'S'}+++++++++` : ITEM_OF[e.type];
  return `${item} ${e.mode.slice(1)} ${e.uid ?? 0} ${e.gid ?? 0} ${e.size} ${date} ${name}`;
}

/** Where " -> target" starts in a symlink line: the target's byte length is the listed
 *  size, so we cut from the right and a name that itself holds " -> " stays whole. */
function symlinkCut(name: string, size: number): number {
  for (let at = name.lastIndexOf(' -> '); at >= 0; at = name.lastIndexOf(' -> ', at - 1)) {
    if (renderedByteLength(name.slice(at + 4)) === size) return at;
    if (at === 0) break;
  }
  return name.indexOf(' -> ');
}

/** Parse a whole listing text (lines separated by \n). */
export function parseListing(text: string): Listing {
  const out: Listing = new Map();
  for (const line of text.split('\n')) {
    const parsed = parseListingLine(line);
    if (parsed) out.set(parsed[0], parsed[1]);
  }
  return out;
}

/** Decode rsync's \#ooo escapes: the rendered path → raw bytes (as a latin1 string). */
export function decodeRendered(rendered: string): string {
  return rendered.replace(/\\#([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** A rendered path as a person would read it in a log (UTF-8 bytes shown as text). */
export function displayPath(rendered: string): string {
  return Buffer.from(rendered, 'latin1').toString('utf8');
}

/** Byte order, as osync's `LC_ALL=C sort` (latin1 code units = bytes). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
