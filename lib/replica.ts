// Where a replica lives: a local directory, or a directory on a host reached over
// ssh. Callers pass a Replica around and never branch on local versus remote;
// only lib/proc knows how to reach it.
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
