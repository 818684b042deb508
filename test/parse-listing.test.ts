// lib/detect/parse-listing.ts against real `rsync -r -ltD -8 --list-only` output
// captured on this machine (TZ=UTC), for a tree of awkward names written byte by byte.
// The round trip that matters: decodeRendered(path) as latin1 bytes == the real name bytes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compareBytes,
  decodeRendered,
  displayPath,
  itemLine,
  itemLinePath,
  parseItemLine,
  parseItemLineByRegex,
  parseItemListing,
  parseListing,
  parseListingLine,
  renderedByteLength,
  type Entry,
  type Listing,
} from '../lib/detect/parse-listing.js';
import { LISTING_FORMAT } from '../lib/proc/rsync.js';
import { StateDir } from '../lib/state/files.js';
import type { BaseListing } from '../lib/plan/plan.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const raw = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? b(p) : Buffer.from(p))));
const latin1 = (buf: Buffer) => buf.toString('latin1');

const LONG = 'L'.repeat(200);

// Regular files (relative Buffer paths) → content.
const FILES: Array<[Buffer, string]> = [
  [b('plain'), 'hello'],
  [b('sp ace'), ''],
  [b(' lead'), ''],
  [b('trail '), 'x'],
  [b(`q'uo"te`), ''],
  [b('do$llar'), ''],
  [b('st*ar?[x]'), ''],
  [b('new\nline'), 'nl'],
  [b('ta\tb'), ''],
  [b('cr\rx'), ''],
  [b('ctl\x01\x7fx'), ''],
  [b('bs\\#012'), 'bs'], // a backslash before #ooo: rsync writes \#134
  [b('bs\\#134#'), ''],
  [b('bs\\x'), ''],
  [b('bs\\#9z'), ''],
  [b('-dash'), ''],
  [b('--rsync-path=x'), ''],
  [b('ünïcødé ✓'), 'uni'],
  [raw('bad', [0xff, 0xfe], 'name'), 'bytes'],
  [raw('lat', [0xe9]), ''],
  [b('arrow -> name'), 'arrow'], // a regular file whose name holds " -> "
  [b('arrow'), 'other'],
  [b('a b'), ''],
  [b('a-b'), ''],
  [b('#hash'), ''],
  [b('dir/inner file'), 'inner'],
  [raw('dir/', [0x80], 'sub/f'), 'deep-bytes'],
  [b(`${LONG}/${LONG}/${LONG}/${LONG}/${LONG}/${LONG}/${LONG}/${LONG}/${LONG}/${LONG}/f`), 'long'],
  [b(Array.from({ length: 40 }, (_, i) => `d${i}`).join('/') + '/leaf'), 'deep'],
];

// Symlinks: name → target (both raw bytes).
const LINKS: Array<[Buffer, Buffer]> = [
  [b('link'), b('plain')],
  [b('lnk -> x'), b('arrow -> name')], // " -> " in both the name and the target
  [b('lnk2'), b('y -> z')],
  [b('lnk3 -> '), b(' -> ')],
  [b('dangling'), b('does/not/exist')],
  [b('to-dir'), b('dir')],
  [b('nl-target'), b('t\nx')],
  [b('bs-target'), b('a\\#012b')],
  [raw('bad', [0xfe], 'link'), raw('tgt', [0xff])],
  [b('abs'), b('/etc/hostname')],
  [b('x -> ab'), b('ab')],
  [b('x'), b('ab -> ab')],
];

const DIRS: Buffer[] = [b('dir'), b('empty dir'), b('sticky')];

let root = '';
let output: Buffer = Buffer.alloc(0);
let listing: Listing = new Map();
// Expected: latin1 path → what we wrote.
const expected = new Map<string, { type: 'f' | 'd' | 'l'; size?: number; target?: string; mtime: number; mode?: string }>();

const MTIMES = [0, 1, 86_399, 951_782_400 /* 2000-02-29 */, 1_700_000_000, 4_102_444_800 /* 2100-01-01 */];

function p(rel: Buffer): Buffer {
  return Buffer.concat([b(root + '/'), rel]);
}

function mkdirs(rel: Buffer): void {
  // every prefix of rel that ends before a "/" is a parent directory
  for (let i = 0; i < rel.length; i++) {
    if (rel[i] !== 0x2f) continue;
    const dir = rel.subarray(0, i);
    if (fs.existsSync(p(dir))) continue;
    fs.mkdirSync(p(dir));
    expected.set(latin1(dir), { type: 'd', mtime: -1 });
  }
}

function listText(dir: string): Buffer {
  return execFileSync('rsync', ['-r', '-ltD', '-8', '--list-only', `${dir}/`], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, maxBuffer: 64 << 20 });
}

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'osync-ts-listing-'));
  FILES.forEach(([rel, content], i) => {
    mkdirs(rel);
    fs.writeFileSync(p(rel), content);
    const mtime = MTIMES[i % MTIMES.length];
    fs.utimesSync(p(rel), mtime, mtime);
    expected.set(latin1(rel), { type: 'f', size: Buffer.byteLength(content), mtime });
  });
  fs.chmodSync(p(b('plain')), 0o754);
  expected.get('plain')!.mode = '-rwxr-xr--';
  fs.chmodSync(p(b('sp ace')), 0o4755);
  expected.get('sp ace')!.mode = '-rwsr-xr-x';
  fs.chmodSync(p(b('trail ')), 0o2640);
  expected.get('trail ')!.mode = '-rw-r-S---';
  for (const d of DIRS) {
    if (!fs.existsSync(p(d))) fs.mkdirSync(p(d));
    expected.set(latin1(d), { type: 'd', mtime: -1 });
  }
  fs.chmodSync(p(b('sticky')), 0o1777);
  expected.get('sticky')!.mode = 'drwxrwxrwt';
  for (const [rel, target] of LINKS) {
    fs.symlinkSync(target, p(rel));
    expected.set(latin1(rel), { type: 'l', size: target.length, target: latin1(target), mtime: -1 });
  }
  // Specials are tracked too (osync copies them but never tracks them).
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  execFileSync('mkfifo', [path.join(root, 'dir', 'fifo -> x')]);
  // A big sparse file: sizes above 2^32 with thousands separators.
  const big = path.join(root, 'big');
  fs.closeSync(fs.openSync(big, 'w'));
  fs.truncateSync(big, 5 * 1024 ** 3 + 7);
  fs.utimesSync(big, 1_234_567_890, 1_234_567_890);
  expected.set('big', { type: 'f', size: 5 * 1024 ** 3 + 7, mtime: 1_234_567_890 });
  // Directory mtimes last (creating children changes them).
  for (const [k, e] of expected) {
    if (e.type !== 'd') continue;
    e.mtime = 1_600_000_000 + k.length;
    fs.utimesSync(p(Buffer.from(k, 'latin1')), e.mtime, e.mtime);
  }
  output = listText(root);
  listing = parseListing(output.toString('latin1'));
});

after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** Every entry below dir as latin1 relative paths, read from the file system with Buffer names. */
function walk(dir: Buffer, prefix: Buffer = Buffer.alloc(0), out: Map<string, fs.Stats> = new Map()): Map<string, fs.Stats> {
  for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
    const rel = prefix.length ? Buffer.concat([prefix, b('/'), name]) : name;
    const full = Buffer.concat([dir, b('/'), name]);
    const st = fs.lstatSync(full);
    out.set(latin1(rel), st);
    if (st.isDirectory()) walk(full, rel, out);
  }
  return out;
}

describe('parse real rsync --list-only output', () => {
  test('every file, directory, symlink and fifo is listed once; the root is not', () => {
    const onDisk = walk(Buffer.from(root));
    const tracked = [...onDisk].filter(([, st]) => st.isFile() || st.isDirectory() || st.isSymbolicLink() || st.isFIFO()).map(([k]) => k).sort(compareBytes);
    const listed = [...listing.keys()].map(decodeRendered).sort(compareBytes);
    assert.deepEqual(listed, tracked);
    assert.ok(onDisk.has('fifo') && onDisk.has('dir/fifo -> x'), 'the fifos exist');
    for (const k of ['fifo', 'dir/fifo -> x']) assert.deepEqual([listing.get(k)!.type, listing.get(k)!.mode[0], listing.get(k)!.target], ['s', 'S', undefined], k);
    assert.ok(!listing.has('.'));
    // and the fixture is what we meant to write
    assert.deepEqual([...expected.keys(), 'fifo', 'dir/fifo -> x'].sort(compareBytes), tracked);
  });

  test('decodeRendered(path) gives back the exact name bytes; entries carry the right type, size, mtime', () => {
    const byReal = new Map([...listing].map(([k, e]) => [decodeRendered(k), [k, e] as const]));
    for (const [real, want] of expected) {
      const got = byReal.get(real);
      assert.ok(got, `missing ${JSON.stringify(real)}`);
      const [rendered, e] = got;
      const ctx = `${JSON.stringify(real)} rendered ${JSON.stringify(rendered)}`;
      assert.equal(e.type, want.type, ctx);
      assert.equal(e.mtime, want.type === 'l' ? e.mtime : want.mtime, ctx);
      if (want.type === 'f') assert.equal(e.size, want.size, ctx);
      if (want.type === 'd') assert.equal(e.size, 0, ctx);
      if (want.type === 'l') {
        assert.equal(e.size, want.size, ctx);
        assert.ok(e.target !== undefined, ctx);
        assert.equal(decodeRendered(e.target), want.target, ctx);
        assert.equal(renderedByteLength(e.target), want.size, ctx);
      } else {
        assert.equal(e.target, undefined, ctx);
      }
      if (want.mode) assert.equal(e.mode, want.mode, ctx);
      assert.equal(renderedByteLength(rendered), Buffer.from(real, 'latin1').length, ctx);
    }
  });

  test('symlink mtimes are the links\' own (lstat)', () => {
    for (const [rel] of LINKS) {
      const k = latin1(rel);
      const e = [...listing].find(([r]) => decodeRendered(r) === k)![1];
      assert.equal(e.mtime, Math.floor(fs.lstatSync(p(rel)).mtimeMs / 1000), k);
    }
  });

  test('rsync\'s rendering: control bytes as \\#ooo, a backslash before #ooo as \\#134, high bytes and tabs raw', () => {
    const keys = new Set(listing.keys());
    for (const k of ['new\\#012line', 'cr\\#015x', 'ctl\\#001\x7fx', 'bs\\#134#012', 'bs\\#134#134#', 'bs\\x', 'bs\\#9z', 'ta\tb', `q'uo"te`, 'lat\xe9', 'bad\xff\xfename', ' lead', 'trail ', 'arrow -> name', 'lnk -> x', 'lnk3 -> ', 'x -> ab']) {
      assert.ok(keys.has(k), `listing has ${JSON.stringify(k)}; it has ${JSON.stringify([...keys].filter((x) => x.startsWith(k.slice(0, 2))))}`);
    }
    assert.equal(listing.get('lnk -> x')!.target, 'arrow -> name');
    assert.equal(listing.get('lnk2')!.target, 'y -> z');
    assert.equal(listing.get('lnk3 -> ')!.target, ' -> ');
    assert.equal(listing.get('x -> ab')!.target, 'ab');
    assert.equal(listing.get('x')!.target, 'ab -> ab');
    assert.equal(listing.get('nl-target')!.target, 't\\#012x');
    assert.equal(listing.get('bs-target')!.target, 'a\\#134#012b');
    // a regular file keeps " -> " in its name (osync truncates it to "arrow")
    assert.equal(listing.get('arrow -> name')!.type, 'f');
    assert.equal(listing.get('arrow -> name')!.size, 5);
    assert.equal(listing.get('arrow')!.size, 5);
    assert.equal(listing.get('arrow')!.type, 'f');
    assert.equal(displayPath('\xc3\xbcn\xc3\xafc\xc3\xb8d\xc3\xa9 \xe2\x9c\x93'), 'ünïcødé ✓');
  });

  test('parseListingLine agrees line by line with parseListing, and rejects what is not tracked', () => {
    const lines = output.toString('latin1').split('\n');
    let n = 0;
    for (const line of lines) {
      const r = parseListingLine(line);
      if (!r) continue;
      n++;
      assert.deepEqual(listing.get(r[0]), r[1]);
    }
    assert.equal(n, listing.size);
    const rejected = lines.filter((l) => l && !parseListingLine(l));
    // exactly the root
    assert.equal(rejected.length, 1, JSON.stringify(rejected));
    assert.ok(rejected.some((l) => / \.$/.test(l)));
  });

  test('a sub-tree listed from a deeper root uses the same relative rendering', () => {
    const sub = parseListing(listText(path.join(root, 'dir')).toString('latin1'));
    const fromRoot = [...listing.keys()].filter((k) => k.startsWith('dir/')).map((k) => k.slice(4)).sort(compareBytes);
    assert.deepEqual([...sub.keys()].sort(compareBytes), fromRoot);
  });
});

describe('the dry-run listing osync-ts uses (lib/proc/rsync.ts LISTING_FORMAT)', () => {
  test('gives the same paths and entries as --list-only, plus each owner and group', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'osync-ts-empty-'));
    try {
      // A known owner on one file, to see it come through.
      fs.chownSync(p(b('plain')), 1234, 5678);
      const text = execFileSync('rsync', ['-r', '-n', '-ltD', '-8', '-p', '-o', '-g', `--out-format=${LISTING_FORMAT}`, `${root}/`, `${empty}/`], {
        env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
        maxBuffer: 64 << 20,
      }).toString('latin1');
      const items = parseItemListing(text);
      assert.deepEqual([...items.keys()].sort(compareBytes), [...listing.keys()].sort(compareBytes));
      for (const [k, e] of listing) {
        const { uid, gid, ...rest } = items.get(k)!;
        assert.deepEqual(rest, e, JSON.stringify(k));
        const st = fs.lstatSync(p(Buffer.from(decodeRendered(k), 'latin1')));
        assert.equal(uid, st.uid, JSON.stringify(k));
        assert.equal(gid, st.gid, JSON.stringify(k));
      }
      assert.equal(items.get('plain')!.uid, 1234);
      assert.equal(items.get('plain')!.gid, 5678);

      // The positional parser and the regex agree on every real line.
      for (const line of text.split('\n')) {
        assert.deepEqual(parseItemLine(line), parseItemLineByRegex(line), JSON.stringify(line));
        assert.equal(itemLinePath(line), parseItemLine(line)?.[0] ?? null, JSON.stringify(line));
      }
      // An entry written back as a listing line (the state files) reads back the same.
      for (const [k, e] of items) assert.deepEqual(parseItemLine(itemLine(k, e)), [k, e], JSON.stringify(k));

      // The state: entries as listed, with unknown owners (just copied) and path-only.
      // (Special files, which osync's list leaves out, are checked at the end.)
      const specials = new Map([...items].filter(([, e]) => e.type === 's'));
      const tracked = new Map([...items].filter(([, e]) => e.type !== 's'));
      assert.equal(specials.size, 2, 'the two fifos');
      const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'osync-ts-state-'));
      try {
        const state = new StateDir(stateDir, 'id', false);
        const base: BaseListing = new Map(tracked);
        let n = 0;
        for (const [k, e] of tracked) {
          const { uid: _uid, gid: _gid, ...ownerless } = e;
          if (n % 3 === 1) base.set(k, ownerless);
          if (n % 3 === 2) base.set(k, null);
          n++;
        }
        state.writeAfter('initiator', base);
        const back = state.readBase('initiator')!;
        assert.deepEqual([...back.keys()].sort(compareBytes), [...base.keys()].sort(compareBytes));
        for (const [k, e] of base) assert.deepEqual(back.get(k), e, JSON.stringify(k));
        // osync's own list beside it: the sorted paths, one per line.
        assert.equal(fs.readFileSync(state.name('initiator', 'tree-after'), 'latin1'), [...base.keys()].sort(compareBytes).join('\n') + '\n');

        // Lines set aside as unchanged (sorted) merged with the planned entries (any order):
        // every path once, in byte order, each with its own line.
        const sorted = [...base.keys()].sort(compareBytes);
        const same = { paths: [] as string[], lines: [] as string[] };
        const planned: BaseListing = new Map();
        sorted.forEach((k, i) => {
          if (i % 2 === 0 && tracked.get(k)) {
            same.paths.push(k);
            same.lines.push(itemLine(k, tracked.get(k)!));
          } else planned.set(k, base.get(k)!);
        });
        assert.ok(same.paths.length > 2 && planned.size > 2);
        state.writeAfter('target', new Map([...planned].reverse()), '-', same);
        assert.equal(fs.readFileSync(state.name('target', 'tree-after'), 'latin1'), sorted.join('\n') + '\n');
        const merged = state.readBase('target')!;
        assert.deepEqual([...merged.keys()], sorted);
        for (const k of sorted) assert.deepEqual(merged.get(k), planned.has(k) ? planned.get(k) : tracked.get(k), JSON.stringify(k));

        // Read back for the split: the initiator's paths from osync's list, in the lines' order;
        // both sides' lines as one array when the two states are the same text.
        let both = state.readBothBaseLines();
        assert.notEqual(both.lines.initiator, both.lines.target);
        assert.deepEqual(both.initiatorPaths, sorted);
        state.writeAfter('target', base);
        both = state.readBothBaseLines();
        assert.equal(both.lines.initiator, both.lines.target);
        assert.equal(both.lines.initiator!.length, sorted.length);
        // The other side next with the same paths (merged once for both) but another entry;
        // then as many paths, one of them another: each list and entry as given.
        const key = sorted.find((k) => base.get(k))!;
        const other: BaseListing = new Map(base);
        other.set(key, { ...base.get(key)!, size: 424242 });
        state.writeAfter('initiator', other);
        assert.equal(fs.readFileSync(state.name('initiator', 'tree-after'), 'latin1'), sorted.join('\n') + '\n');
        assert.deepEqual(state.readBase('initiator')!.get(key), other.get(key));
        const renamed: BaseListing = new Map([...base].map(([k, e], i) => [i === 0 ? `${k}-renamed` : k, i === 0 && e ? { ...e } : e]));
        state.writeAfter('initiator', renamed);
        assert.equal(fs.readFileSync(state.name('initiator', 'tree-after'), 'latin1'), [...renamed.keys()].sort(compareBytes).join('\n') + '\n');
        assert.deepEqual([...state.readBase('initiator')!.keys()].sort(compareBytes), [...renamed.keys()].sort(compareBytes));
        // osync.sh rewrote its list: the metadata no longer describes it and is not used.
        fs.appendFileSync(state.name('initiator', 'tree-after'), 'extra\n');
        both = state.readBothBaseLines();
        assert.equal(both.lines.initiator, null);
        assert.equal(both.initiatorPaths, undefined);

        // Special files: in our metadata, not in osync's list (osync.sh would take them for
        // deleted), whether planned or set aside as unchanged; read back all the same.
        const withSpecials: BaseListing = new Map([...tracked, ...specials]);
        const [asideKey, aside] = [...specials][0];
        state.writeAfter('initiator', new Map([...withSpecials].filter(([k]) => k !== asideKey)), '-', { paths: [asideKey], lines: [itemLine(asideKey, aside)] });
        assert.equal(fs.readFileSync(state.name('initiator', 'tree-after'), 'latin1'), [...tracked.keys()].sort(compareBytes).join('\n') + '\n');
        const backAll = state.readBase('initiator')!;
        assert.deepEqual([...backAll.keys()].sort(compareBytes), [...withSpecials.keys()].sort(compareBytes));
        for (const [k, e] of specials) assert.deepEqual(backAll.get(k), e, JSON.stringify(k));
        assert.equal(state.readBothBaseLines().initiatorPaths, undefined, 'the list no longer names every metadata line');
      } finally {
        fs.rmSync(stateDir, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('parseListingLine on synthetic lines', () => {
  const ok = (line: string): [string, Entry] => {
    const r = parseListingLine(line);
    assert.ok(r, line);
    return r;
  };
  test('sizes with separators, times as UTC epoch seconds, ACL/xattr markers', () => {
    assert.deepEqual(ok('-rw-r--r--  5,368,709,127 2009/02/13 23:31:30 big'), ['big', { type: 'f', size: 5368709127, mtime: 1234567890, mode: '-rw-r--r--' }]);
    assert.deepEqual(ok('-rw-r--r--+            12 1970/01/01 00:00:00 acl'), ['acl', { type: 'f', size: 12, mtime: 0, mode: '-rw-r--r--' }]);
    assert.deepEqual(ok('drwxr-xr-x.          4,096 2100/01/01 00:00:00 d'), ['d', { type: 'd', size: 0, mtime: 4102444800, mode: 'drwxr-xr-x' }]);
    assert.deepEqual(ok('-rw-r--r--              0 1969/12/31 00:00:00 old'), ['old', { type: 'f', size: 0, mtime: -86400, mode: '-rw-r--r--' }]);
    assert.deepEqual(ok('-rwsr-sr-T              1 2020/01/01 00:00:00 modes'), ['modes', { type: 'f', size: 1, mtime: 1577836800, mode: '-rwsr-sr-T' }]);
  });
  test('names keep every space', () => {
    assert.equal(ok('-rw-r--r--              0 2020/01/01 00:00:00   two leading ')[0], '  two leading ');
  });
  test('symlinks: the target is cut from the right by its byte length', () => {
    assert.deepEqual(ok('lrwxrwxrwx              1 2020/01/01 00:00:00 a -> b -> c').slice(0, 1), ['a -> b']);
    assert.equal(ok('lrwxrwxrwx              1 2020/01/01 00:00:00 a -> b -> c')[1].target, 'c');
    assert.equal(ok('lrwxrwxrwx              6 2020/01/01 00:00:00 a -> b -> c')[1].target, 'b -> c');
    // escapes count as one byte
    assert.deepEqual(ok('lrwxrwxrwx              3 2020/01/01 00:00:00 n\\#012 -> t\\#012x').map((x) => (typeof x === 'string' ? x : x.target)), ['n\\#012', 't\\#012x']);
    // latin1 high bytes count as one byte each (UTF-8 "é" is two)
    assert.equal(ok('lrwxrwxrwx              2 2020/01/01 00:00:00 l -> \xc3\xa9')[1].target, '\xc3\xa9');
  });
  test('special files: fifos and sockets as S, devices as D, in both listing formats', () => {
    assert.deepEqual(parseListingLine('prw-r--r--              0 2020/01/01 00:00:00 fifo'), ['fifo', { type: 's', size: 0, mtime: 1577836800, mode: 'Srw-r--r--' }]);
    assert.deepEqual(parseListingLine('srwxr-xr-x              0 2020/01/01 00:00:00 sock')![1].mode, 'Srwxr-xr-x');
    for (const [line, mode] of [
      ['cS+++++++++ rw-r--r-- 0 0 0 2020/01/01-00:00:00 a fifo', 'Srw-r--r--'],
      ['cD+++++++++ rw-rw-rw- 0 0 0 2020/01/01-00:00:00 null', 'Drw-rw-rw-'],
    ] as const) {
      const got = parseItemLine(line)!;
      assert.deepEqual(got, parseItemLineByRegex(line));
      assert.deepEqual(got[1], { type: 's', size: 0, mtime: 1577836800, mode, uid: 0, gid: 0 });
      assert.equal(itemLine(got[0], got[1]), line);
    }
  });
  test('lines that are not entries', () => {
    for (const l of [
      '',
      'receiving incremental file list',
      'drwxr-xr-x          4,096 2020/01/01 00:00:00 .',
      'crw-rw-rw-          1,  3 2020/01/01 00:00:00 null',
      'rsync: [sender] opendir "/x" failed: Permission denied (13)',
      'sent 20 bytes  received 1,234 bytes  2,508.00 bytes/sec',
    ]) assert.equal(parseListingLine(l), null, l);
  });
  test('decodeRendered / renderedByteLength', () => {
    assert.equal(decodeRendered('a\\#012b\\#134#012\\#9z\\x'), 'a\nb\\#012\\#9z\\x');
    assert.equal(renderedByteLength('a\\#012b\\#134#012'), 8);
    assert.equal(renderedByteLength('\\#01'), 4);
  });
});
