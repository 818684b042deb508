// Where a replica lives: a local directory, or a directory on a host reached over
// ssh. Callers pass a Replica around and never branch on local versus remote;
// only lib/proc knows how to reach it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, Side } from './config/types.js';
import { parseSshUri, rsyncPath, rsyncRemoteShell, sshArgv, type SshOptions, type SshTarget } from './proc/ssh.js';

export const WORKDIR = '.osync_workdir';

export interface RemoteAccess {
  target: SshTarget;
  /** ControlMaster socket (SSH_CONTROLMASTER), closed at the end of the run. */
  controlPath?: string;
  /** argv that opens a shell on the host (the remote command is appended). */
  sshArgv: string[];
  /** Value for rsync -e. */
  rsyncShell: string;
  /** Value for rsync --rsync-path. */
  rsyncPath: string;
  sudo: boolean;
  token: string;
}

export interface Replica {
  side: Side;
  /** Absolute directory, no trailing slash (as seen on its own host). */
  root: string;
  /** <root>/.osync_workdir */
  workDir: string;
  /** Where state files live (a custom state dir, or <workDir>/state). */
  stateDir: string;
  remote?: RemoteAccess;
}

function stripSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

export function sshOptionsFor(config: Config, controlPath?: string): SshOptions {
  return {
    privateKey: config.sshRsaPrivateKey,
    passwordFile: config.sshPasswordFile,
    krb5: config.krb5,
    compression: config.sshCompression,
    ignoreKnownHosts: config.sshIgnoreKnownHosts,
    controlPath,
    optionalArgs: config.sshOptionalArgs,
  };
}

export function makeReplicas(config: Config, cwd: string, localUser: string, controlPath = defaultControlPath(config)): Record<Side, Replica> {
  const initiatorRoot = stripSlash(path.resolve(cwd, config.initiatorSyncDir));
  const initiator: Replica = {
    side: 'initiator',
    root: initiatorRoot,
    workDir: `${initiatorRoot}/${WORKDIR}`,
    stateDir: config.initiatorCustomStateDir || `${initiatorRoot}/${WORKDIR}/state`,
  };
  let target: Replica;
  if (config.targetSyncDir.startsWith('ssh://')) {
    const t = parseSshUri(config.targetSyncDir, localUser);
    const opts = sshOptionsFor(config, controlPath);
    // A relative path starting with "-" would read as an option to every command that
    // takes it (find, cd, df...): "./-dir" is the same directory.
    const root = stripSlash(t.path.startsWith('-') ? `./${t.path}` : t.path);
    target = {
      side: 'target',
      root,
      workDir: `${root}/${WORKDIR}`,
      stateDir: config.targetCustomStateDir || `${root}/${WORKDIR}/state`,
      remote: {
        target: t,
        controlPath,
        sshArgv: sshArgv(opts, t),
        rsyncShell: rsyncRemoteShell(opts, t),
        rsyncPath: rsyncPath(config.rsyncRemotePath, config.rsyncExecutable, config.remoteToken, config.sudoExec),
        sudo: config.sudoExec,
        token: config.remoteToken,
      },
    };
  } else {
    const root = stripSlash(path.resolve(cwd, config.targetSyncDir));
    target = {
      side: 'target',
      root,
      workDir: `${root}/${WORKDIR}`,
      stateDir: config.targetCustomStateDir || `${root}/${WORKDIR}/state`,
    };
  }
  return { initiator, target };
}

/** SSH_CONTROLMASTER: one ssh connection for the whole run, its socket in the temp dir. */
function defaultControlPath(config: Config): string | undefined {
  if (!config.sshControlmaster) return undefined;
  return path.join(os.tmpdir(), `osync-ts.ctrlm.%r@%h.${process.pid}`);
}

/** The replica root as rsync names it, with a trailing slash. */
export function rsyncLocation(r: Replica): string {
  if (!r.remote) return `${r.root}/`;
  const { user, host } = r.remote.target;
  const h = host.includes(':') ? `[${host}]` : host;
  return `${user}@${h}:${r.root}/`;
}

/** Where a replica is, host included (`/abs/root/`, or `ssh://user@host:port//abs/root/`):
 *  recorded with the state, so a root path changed in the config is recognised. */
export function replicaLocation(r: Replica): string {
  if (!r.remote) return `${r.root}/`;
  const { user, host, port } = r.remote.target;
  return `ssh://${user}@${host.includes(':') ? `[${host}]` : host}:${port}/${r.root}/`;
}

/** How a replica is named in log lines: its root with a trailing slash, as osync. */
export function displayRoot(r: Replica): string {
  return `${r.root}/`;
}

/** The real path of `p`, symlinks and `..` resolved; for a path that does not exist yet
 *  (CREATE_DIRS makes it), its nearest existing parent's real path and the rest. */
function realPathOf(p: string): string {
  const rest: string[] = [];
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    try {
      return path.join(fs.realpathSync(dir), ...rest.reverse());
    } catch {
      if (dir === path.dirname(dir)) return path.resolve(p);
      rest.push(path.basename(dir));
    }
  }
}

/** Why two local replicas cannot be synced: the same directory (reached through a
 *  symlink or `..`), or one inside the other (each run would copy the inner one into
 *  itself one level deeper). null when they are apart, or the target is remote (its
 *  check looks for this run's lock above it, see lib/replica-check.ts). */
export function replicasOverlap(replicas: Record<Side, Replica>): string | null {
  const { initiator, target } = replicas;
  if (initiator.remote || target.remote) return null;
  const real = { initiator: realPathOf(initiator.root), target: realPathOf(target.root) };
  if (real.initiator === real.target) return `Initiator and target replicas [${displayRoot(initiator)}] and [${displayRoot(target)}] are the same directory [${real.initiator}/].`;
  for (const [inner, outer] of [[target, initiator], [initiator, target]]) {
    const [a, b] = [real[inner.side], real[outer.side]];
    if (!a.startsWith(b === '/' ? '/' : `${b}/`)) continue;
    const via = a === inner.root && b === outer.root ? '' : ` (real paths [${a}/] and [${b}/])`;
    return `${cap(inner.side)} replica [${displayRoot(inner)}] lies inside ${outer.side} replica [${displayRoot(outer)}]${via}: a replica cannot hold the other.`;
  }
  return null;
}

/** For a remote target on this very host: the directory above the initiator that holds
 *  the lock this run has just taken on the target (the initiator lies inside the target),
 *  or null. */
export function ownLockAbove(initiator: Replica, lockText: string): string | null {
  for (let dir = realPathOf(initiator.root); dir !== path.dirname(dir); ) {
    dir = path.dirname(dir);
    try {
      if (fs.readFileSync(path.join(dir, WORKDIR, 'lock'), 'utf8').replace(/\n+$/, '') === lockText) return dir;
    } catch {
      /* no lock there */
    }
  }
  return null;
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}
