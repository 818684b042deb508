// rsync argument builders (pure) and what rsync's exit codes mean.
import type { Config } from '../config/types.js';
import { rsyncLocation, WORKDIR, type Replica } from '../replica.js';

const SKIP_COMPRESS =
  '3fr/3g2/3gp/3gpp/7z/aac/ace/amr/apk/appx/appxbundle/arc/arj/arw/asf/avi/bz/bz2/cab/cr2/crypt[5678]/dat/dcr/deb/dmg/drc/ear/erf/flac/flv/gif/gpg/gz/iiq/jar/jp2/jpeg/jpg/h26[45]/k25/kdc/kgb/lha/lz/lzma/lzo/lzx/m4[apv]/mef/mkv/mos/mov/mp[34]/mpeg/mp[gv]/msi/nef/oga/ogg/ogv/opus/orf/pak/pef/png/qt/rar/r[0-9][0-9]/rz/rpm/rw2/rzip/s7z/sfark/sfx/sr2/srf/svgz/t[gb]z/tlz/txz/vob/wim/wma/wmv/xz/zip/zst';

/** Exit codes that still mean "done": 24 = some source files vanished meanwhile. */
export function rsyncSucceeded(code: number): boolean {
  return code === 0 || code === 24;
}

export function rsyncMeaning(code: number): string {
  const meanings: Record<number, string> = {
    1: 'syntax or usage error',
    2: 'protocol incompatibility',
    3: 'errors selecting input/output files, dirs',
    5: 'error starting client-server protocol',
    10: 'error in socket I/O',
    11: 'error in file I/O',
    12: 'error in rsync protocol data stream',
    14: 'error in IPC code',
    20: 'interrupted',
    23: 'partial transfer due to error',
    24: 'some files vanished before they could be transferred',
    30: 'timeout in data send/receive',
    35: 'timeout waiting for daemon connection',
    127: 'rsync not found',
    255: 'ssh connection failed',
  };
  return meanings[code] ?? 'unknown error';
}

/** The user's include/exclude patterns, in osync's order, after the workdir exclusion. */
export function patternArgs(c: Config): string[] {
  const out = ['--exclude', WORKDIR];
  const inc = [...c.rsyncIncludePattern.map((p) => `--include=${p}`), ...(c.rsyncIncludeFrom ? [`--include-from=${c.rsyncIncludeFrom}`] : [])];
  const exc = [...c.rsyncExcludePattern.map((p) => `--exclude=${p}`), ...(c.rsyncExcludeFrom ? [`--exclude-from=${c.rsyncExcludeFrom}`] : [])];
  if (c.rsyncPatternFirst === 'include') out.push(...inc, ...exc);
  else if (c.rsyncPatternFirst === 'exclude') out.push(...exc, ...inc);
  out.push('--exclude=.osync-update.push');
  return out;
}

/** Attribute flags shared by listing and transfers. */
export function attributeArgs(c: Config): string[] {
  const out: string[] = [];
  if (c.preservePermissions) out.push('-p');
  if (c.preserveOwner) out.push('-o');
  if (c.preserveGroup) out.push('-g');
  if (c.preserveExecutability) out.push('--executability');
  if (c.preserveAcl) out.push('-A');
  if (c.preserveXattr) out.push('-X');
  return out;
}

function linkArgs(c: Config): string[] {
  const out: string[] = [];
  if (c.copySymlinks) out.push('-L');
  if (c.keepDirlinks) out.push('-K');
  if (c.preserveHardlinks) out.push('-H');
  return out;
}

/** ssh transport and remote rsync path, when the replica is remote. */
function remoteArgs(...replicas: Replica[]): string[] {
  const r = replicas.find((x) => x.remote)?.remote;
  if (!r) return [];
  // --secluded-args (-s): file names travel inside the rsync protocol, never
  // through the remote shell, so no name can be split or run as a command.
  return ['-e', r.rsyncShell, `--rsync-path=${r.rsyncPath}`, '-s'];
}

/** rsync --list-only of a replica (recursive, paths rendered with -8). */
/** The replica listed as a dry run into an empty local directory: like --list-only (same
 *  walk, same exclusions, same rendering of names), but each line also carries the
 *  owner and group, which --list-only does not show:
 *  `<itemize> <perms> <uid> <gid> <size> <YYYY/MM/DD-HH:MM:SS> <name>[ -> <link target>]`. */
export const LISTING_FORMAT = '%i %B %U %G %l %M %n%L';

/** A recursive dry run over a replica's tree: the walk, the exclusions and the rendering
 *  of names shared by the listings and the ACL/xattr comparison. */
function dryRunWalkArgs(c: Config): string[] {
  return [
    // --no-inc-recursive: one file list sent up front costs rsync less than one per
    // directory (about 10% of a large listing); the order of lines does not matter.
    '-r', '-n', '--no-inc-recursive', '-ltD', '-8',
    // -H would print hard links as "=> first" instead of as files: the listing needs neither.
    ...linkArgs(c).filter((a) => a !== '-H'),
    ...c.rsyncOptionalArgs,
    ...attributeArgs(c),
    ...patternArgs(c),
  ];
}

export function listingArgv(c: Config, r: Replica, emptyDir: string): string[] {
  return [c.rsyncExecutable, ...dryRunWalkArgs(c), ...remoteArgs(r), `--out-format=${LISTING_FORMAT}`, rsyncLocation(r), `${emptyDir}/`];
}

/** The initiator compared with the target as a dry run, itemised (`%i %n`): with -A/-X
 *  an item whose ACL or xattrs differ shows 'a' or 'x' (lib/apply/attributes.ts). */
export function attributeDiscoveryArgv(c: Config, from: Replica, to: Replica): string[] {
  return [c.rsyncExecutable, ...dryRunWalkArgs(c), ...remoteArgs(from, to), '--out-format=%i %n', rsyncLocation(from), rsyncLocation(to)];
}

/** Compare the content of the listed files (NUL-separated on stdin) between the
 *  replicas: a dry run with --checksum, one line per file (`-ii`), `>f`/`<f` for a file
 *  whose content differs (lib/detect/content.ts). */
export function contentCompareArgv(c: Config, from: Replica, to: Replica): string[] {
  return [
    c.rsyncExecutable,
    '-n', '-c', '-ltD', '-8',
    ...c.rsyncOptionalArgs,
    '--ignore-missing-args',
    '-ii', '--out-format=%i %n',
    ...remoteArgs(from, to),
    '--files-from=-', '--from0',
    rsyncLocation(from),
    rsyncLocation(to),
  ];
}

export interface TransferOptions {
  dry: boolean;
  /** Itemise changes (--verbose/--summary). */
  itemize?: boolean;
  /** --stats: rsync's transfer statistics, shown with the --verbose item lists (as osync). */
  stats?: boolean;
  /** Leave directories' times as they are (-O): an attribute-only update changes nothing else. */
  omitDirTimes?: boolean;
  /** rsync's overall progress on stdout (a terminal's progress display), among the items. */
  progress?: boolean;
  /** Send the files even where size and mtime agree (--ignore-times): their content differs. */
  ignoreTimes?: boolean;
}

/** Copy an explicit list of paths (read NUL-separated from stdin) from one replica to the other. */
export function transferArgv(c: Config, from: Replica, to: Replica, o: TransferOptions): string[] {
  const argv = [
    c.rsyncExecutable,
    '-ltD', '-8',
    ...(c.rsyncCompress && (from.remote || to.remote) ? ['-zz', `--skip-compress=${SKIP_COMPRESS}`] : []),
    ...linkArgs(c),
    ...c.rsyncOptionalArgs,
    ...(c.bandwidth > 0 ? [`--bwlimit=${c.bandwidth}`] : []),
    ...(c.partial ? ['--partial', `--partial-dir=${WORKDIR}/_partial`] : []),
    c.deltaCopies ? '--no-whole-file' : '--whole-file',
    ...(o.dry ? ['-n'] : []),
    ...attributeArgs(c),
    ...(c.checksum ? ['--checksum'] : []),
    // One line per listed item, changed or not ("-ii"): an item without a line was
    // not there to send (vanished since the listing), so it is not recorded as done.
    '-ii', '--out-format=%i %n',
    ...(o.stats ? ['--stats'] : []),
    ...(o.progress ? ['--info=progress2'] : []),
    ...(o.omitDirTimes ? ['--omit-dir-times'] : []),
    ...(o.ignoreTimes ? ['--ignore-times'] : []),
    // A directory replaced by a file (or the reverse) needs its old content removed.
    '--force',
    // A file that vanished since the listing is not an error: the next run sees it gone.
    '--ignore-missing-args',
    // Half-written files live in the workdir, never beside the real ones: a run killed
    // mid-transfer leaves no ".name.XXXXXX" that the next run would take for a new file.
    `--temp-dir=${WORKDIR}/tmp`,
    // Backups keep the plain name; CONFLICT_BACKUP_MULTIPLE's date is added afterwards
    // (lib/trash.ts), so a long name can be cut to fit and no version replaces another.
    ...(c.conflictBackup ? ['--backup', `--backup-dir=${WORKDIR}/backup`] : []),
    ...remoteArgs(from, to),
    '--files-from=-', '--from0',
    rsyncLocation(from),
    rsyncLocation(to),
  ];
  return argv;
}

// A record of --info=progress2: "\r      32,768  33%   43.37MB/s    0:00:00 (xfr#1, to-chk=2/3)",
// ended by \r (or \n at the end of a file). Bytes are grouped with ',' (LC_ALL=C), or
// scaled (K, M, G, T) when the user's RSYNC_OPTIONAL_ARGS holds -h.
const PROGRESS_RECORD = /^ *([\d,.]+)([KMGT]?) +\d+% /;

/** Bytes and files done in a progress record ("xfr#n" counts the files sent so far; absent
 *  before the first one ends); null: not a progress record (an item line...). */
export function parseProgress(record: string): { bytes: number; files: number } | null {
  const m = PROGRESS_RECORD.exec(record);
  if (!m) return null;
  const bytes = m[2] ? Number(m[1].replace(/,/g, '')) * 1000 ** ('KMGT'.indexOf(m[2]) + 1) : Number(m[1].replace(/[,.]/g, ''));
  const files = /\(xfr#(\d+),/.exec(record);
  return { bytes, files: files ? Number(files[1]) : 0 };
}

/** rsync's output without its progress records (item lines never hold a raw \r: rsync
 *  escapes control characters in names). */
export function withoutProgress(stdout: string): string {
  return stdout
    .split('\n')
    .map((line) => line.split('\r').filter((rec) => parseProgress(rec) === null).join(''))
    .join('\n');
}

/** The workdir of a replica as rsync names it (…/.osync_workdir/). */
function workDirLocation(r: Replica): string {
  return rsyncLocation({ ...r, root: r.workDir });
}

/** List the trash of a replica (deleted/ and backup/ below its workdir), recursively. */
export function trashListingArgv(c: Config, r: Replica): string[] {
  return [
    c.rsyncExecutable,
    '-r', '-ltD', '-8',
    '--list-only',
    '--include=/deleted/***', '--include=/backup/***', '--exclude=*',
    ...remoteArgs(r),
    workDirLocation(r),
  ];
}

/** List only the named workdir-relative paths (NUL-separated on stdin) that exist, not
 *  recursing (the collision check before items are moved into the trash). `emptyDir` is
 *  a local empty directory: with a destination rsync accepts --files-from and only lists. */
export function trashProbeArgv(c: Config, r: Replica, emptyDir: string): string[] {
  return [
    c.rsyncExecutable,
    '-ltD', '-8',
    '--list-only', '--ignore-missing-args',
    ...remoteArgs(r),
    '--files-from=-', '--from0',
    workDirLocation(r),
    `${emptyDir}/`,
  ];
}
