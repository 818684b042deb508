// ssh plumbing for remote targets: URI parsing, the ssh argv, the rsync `-e`
// string, and the command strings sent to the remote login shell.
// Pure functions only: nothing here touches the file system or the network.
//
// Quoting rules in one place:
// * sshArgv() returns an argv: no quoting needed, nothing is parsed by a shell.
// * remoteCommand() / rsyncPath() build strings that the REMOTE login shell
//   parses; every word is quoted with shell-quote's quote().
// * rsyncRemoteShell() builds the value of `rsync -e`. rsync splits that string
//   itself (spaces separate words, '…' and "…" group, backslashes are NOT
//   special), so each word is written in a form that sh and rsync both read
//   back as the same literal word (see rsyncShellWord()).
import { quote } from 'shell-quote';

export interface SshTarget {
  user: string;
  /** Host name or IP address; IPv6 addresses are stored without brackets. */
  host: string;
  port: number;
  /** '/abs/path' for `//` URIs, 'rel/path' (relative to the remote login directory) for `/` URIs. */
  path: string;
}

export interface SshOptions {
  /** Private key for `ssh -i`; '' when none. The caller decides (by existence) which auth applies. */
  privateKey: string;
  /** sshpass password file; used only when privateKey is ''. */
  passwordFile: string;
  krb5: boolean;
  compression: boolean;
  ignoreKnownHosts: boolean;
  /** When set: ControlMaster=auto, ControlPersist=yes, ControlPath=<it>. */
  controlPath?: string;
  /** SSH_OPTIONAL_ARGS, already split into words. */
  optionalArgs: string[];
}

export const DEFAULT_SSH_PORT = 22;
export const DEFAULT_CONNECT_TIMEOUT = 10;

const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// IPv6 literal, optionally with a zone id (fe80::1%eth0).
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?$/;
// Characters that never make sense in a user name handed to ssh.
const BAD_USER_CHAR = /[\s\x00-\x1f\x7f/:'"`$\\;&|<>()*?!{}[\]]/;

function uriError(uri: string, why: string): Error {
  return new Error(`Invalid ssh URI [${uri}]: ${why} (expected ssh://[user@]host[:port]//absolute/path or ssh://[user@]host[:port]/relative/path).`);
}

/**
 * Parses `ssh://[user@]host[:port]//abs/path` (or `/rel/path`, relative to the
 * remote login directory). Differences from osync's string cuts (improvements):
 * the user is taken from the authority part only (an `@` in the path no longer
 * corrupts it), `[IPv6]` hosts are accepted, and malformed URIs throw instead of
 * producing a nonsense target (no path, empty host, bad or extra port).
 */
export function parseSshUri(uri: string, localUser: string): SshTarget {
  const prefix = 'ssh://';
  if (!uri.startsWith(prefix)) throw uriError(uri, 'it does not start with ssh://');
  if (uri.includes('\0')) throw uriError(uri, 'it contains a NUL byte');
  const rest = uri.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw uriError(uri, 'no path after the host');
  const authority = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  if (path === '') throw uriError(uri, 'empty path');

  // A host can never contain '@', so the user is everything before the last '@'
  // of the authority (this also admits user names such as "john@corp").
  const at = authority.lastIndexOf('@');
  let user = localUser;
  let hostPort = authority;
  if (at >= 0) {
    user = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    if (user === '') throw uriError(uri, 'empty user name before @');
  }
  if (user === '') throw uriError(uri, 'no user name given and the local user name is unknown');
  if (user.startsWith('-') || BAD_USER_CHAR.test(user)) throw uriError(uri, `bad user name [${user}]`);

  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw uriError(uri, 'missing ] after IPv6 address');
    host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw uriError(uri, `unexpected text [${after}] after IPv6 address`);
      portText = after.slice(1);
    }
    if (!IPV6.test(host)) throw uriError(uri, `bad IPv6 address [${host}]`);
  } else {
    const colon = hostPort.indexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      portText = hostPort.slice(colon + 1);
      if (portText.includes(':')) throw uriError(uri, 'more than one colon in the host part (write IPv6 addresses in brackets: ssh://user@[::1]:22//path)');
    } else {
      host = hostPort;
    }
    if (host === '') throw uriError(uri, 'no host');
    if (!HOST_NAME.test(host)) throw uriError(uri, `bad host name [${host}]`);
  }

  let port = DEFAULT_SSH_PORT;
  if (portText !== undefined && portText !== '') {
    if (!/^[0-9]{1,5}$/.test(portText)) throw uriError(uri, `bad port [${portText}]`);
    port = Number(portText);
    if (port < 1 || port > 65535) throw uriError(uri, `port [${portText}] out of range 1-65535`);
  }
  return { user, host, port, path };
}

/** `user@host` as ssh takes it (IPv6 without brackets). */
export function sshDestination(t: SshTarget): string {
  checkTarget(t);
  return `${t.user}@${t.host}`;
}

/** `user@host` as rsync takes it before `:path` (IPv6 in brackets). */
export function rsyncHostSpec(t: SshTarget): string {
  checkTarget(t);
  return t.host.includes(':') ? `${t.user}@[${t.host}]` : `${t.user}@${t.host}`;
}

function checkTarget(t: SshTarget): void {
  // Guard against option injection when a target was built by hand.
  if (t.user === '' || t.user.startsWith('-')) throw new Error(`Bad ssh user name [${t.user}].`);
  if (t.host === '' || t.host.startsWith('-') || /[\s@/]/.test(t.host)) throw new Error(`Bad ssh host name [${t.host}].`);
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`Bad ssh port [${t.port}].`);
}

/** True when the words of SSH_OPTIONAL_ARGS set ssh option `name` (`-o Name=…`, `-oName …`). */
export function setsSshOption(args: readonly string[], name: string): boolean {
  const lower = name.toLowerCase();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let value: string | undefined;
    if (a === '-o') value = args[i + 1];
    else if (a.startsWith('-o')) value = a.slice(2);
    if (value !== undefined && value.trimStart().toLowerCase().split(/[\s=]/, 1)[0] === lower) return true;
  }
  return false;
}

/** True when password-file (sshpass) authentication is what sshArgv() will use. */
export function usesPasswordAuth(opts: SshOptions): boolean {
  return opts.privateKey === '' && opts.passwordFile !== '';
}

/** The ssh program and its options, without port and destination. */
function sshWords(opts: SshOptions): string[] {
  const words: string[] = [];
  const password = usesPasswordAuth(opts);
  if (password) words.push('sshpass', '-f', opts.passwordFile);
  words.push('ssh');
  if (opts.compression) words.push('-C');
  else words.push('-o', 'Compression=no');
  // Quiet like osync's -q, but keep ssh's errors: they become the one-line reason.
  words.push('-o', 'LogLevel=ERROR');
  if (opts.privateKey !== '') words.push('-i', opts.privateKey);
  // krb5: nothing to add, GSSAPI is negotiated by ssh itself.
  if (opts.ignoreKnownHosts) words.push('-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no');
  if (opts.controlPath !== undefined && opts.controlPath !== '') {
    words.push('-o', 'ControlMaster=auto', '-o', 'ControlPersist=yes', '-o', `ControlPath=${opts.controlPath}`);
  }
  // Never wait on a prompt (sshpass needs the password prompt, so not then).
  if (!password) words.push('-o', 'BatchMode=yes');
  if (!setsSshOption(opts.optionalArgs, 'ConnectTimeout')) words.push('-o', `ConnectTimeout=${DEFAULT_CONNECT_TIMEOUT}`);
  words.push(...opts.optionalArgs);
  return words;
}

/** Full argv to reach the host; append the remote command string as the last element. */
export function sshArgv(opts: SshOptions, t: SshTarget): string[] {
  return [...sshWords(opts), '-p', String(t.port), sshDestination(t)];
}

const RSYNC_SAFE_WORD = /^[A-Za-z0-9_.\/=:%@,+-]+$/;

/**
 * One word of the `rsync -e` string, written so that POSIX sh and rsync's own
 * splitter both read it back literally. shell-quote's quote() is used whenever
 * its output has no backslash (rsync does not understand backslashes); plain
 * words stay bare; anything else is single-quoted with `'"'"'` for quotes.
 */
export function rsyncShellWord(word: string, first = false): string {
  if (RSYNC_SAFE_WORD.test(word) && !(first && word.includes('='))) return word;
  const q = quote([word]);
  if (!q.includes('\\')) return q;
  return "'" + word.split("'").join(`'"'"'`) + "'";
}

/** Value for `rsync -e`: the ssh command without destination, `-p <port>` last (as osync). */
export function rsyncRemoteShell(opts: SshOptions, t: SshTarget): string {
  checkTarget(t);
  const words = [...sshWords(opts), '-p', String(t.port)];
  return words.map((w, i) => rsyncShellWord(w, i === 0)).join(' ');
}

const SAFE_TOKEN = /^[A-Za-z0-9_.,:+@%-]*$/;

/**
 * The token is written unquoted (ssh_filter looks for the literal substring
 * `env _REMOTE_TOKEN=<token>`), so it must not contain anything a shell would
 * interpret. Throws a one-line Error otherwise.
 */
export function assertSafeToken(token: string): void {
  if (!SAFE_TOKEN.test(token)) {
    throw new Error('the remote token (_REMOTE_TOKEN, --remote-token) may only contain letters, digits and _ . , : + @ % - (it is sent unquoted, as ssh_filter.sh expects it).');
  }
}

function prefix(token: string, sudo: boolean): string {
  assertSafeToken(token);
  // sudo -n: fail at once with "a password is required" instead of hanging on a prompt.
  return `env _REMOTE_TOKEN=${token} env LC_ALL=C ${sudo ? 'sudo -n ' : ''}`;
}

/**
 * The command string for ssh: `env _REMOTE_TOKEN=<t> env LC_ALL=C [sudo ]<quoted words>`.
 * Every word is quoted for the remote POSIX shell.
 */
export function remoteCommand(words: string[], token: string, sudo: boolean): string {
  if (words.length === 0) throw new Error('remoteCommand: no command words given.');
  return prefix(token, sudo) + quote(words);
}

/**
 * Value for `rsync --rsync-path`: `env _REMOTE_TOKEN=<t> env LC_ALL=C [sudo ]<dir/>rsync`.
 * remotePath is RSYNC_REMOTE_PATH ('' = search the remote PATH), executable is
 * RSYNC_EXECUTABLE (usually 'rsync').
 */
export function rsyncPath(remotePath: string, executable: string, token: string, sudo: boolean): string {
  return prefix(token, sudo) + quote([rsyncProgram(remotePath, executable)]);
}

/** The rsync program on the remote host (RSYNC_REMOTE_PATH is its directory). */
export function rsyncProgram(remotePath: string, executable: string): string {
  const exe = executable === '' ? 'rsync' : executable;
  const dir = remotePath.replace(/\/+$/, '');
  return remotePath === '' ? exe : `${dir}/${exe}`;
}
