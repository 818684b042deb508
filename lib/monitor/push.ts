// The target helper's way to ask the initiator's daemon for a sync, as osync's: append
// `<INSTANCE_ID>#<YYYYmmddTHHMMSS.nanoseconds>` (local time) to `.osync-update.push` at
// the initiator's root, on this host or over ssh. The daemon watching the initiator sees
// the write and syncs; the file itself is never synced (patternArgs excludes it). So an
// osync.sh daemon reacts to this helper and an osync-ts daemon to osync.sh's helper.
import path from 'node:path';
import type { Config } from '../config/types.js';
import type { Runner } from '../proc/run.js';
import { parseSshUri, rsyncPath, rsyncRemoteShell, sshArgv } from '../proc/ssh.js';
import { sshOptionsFor, WORKDIR, type Replica } from '../replica.js';
import { PUSH_FILE } from './relevance.js';

/** One line of the push file, e.g. `my_task#20261125T134805.896000000`. */
export function pushLine(instanceId: string, now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp =
    `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}T` +
    `${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}.${p(now.getMilliseconds() * 1_000_000, 9)}`;
  return `${instanceId}#${stamp}`;
}

/** Exit code of PUSH_SCRIPT when the initiator's directory does not exist. */
export const NO_INITIATOR_DIR = 3;
/** The push file is started over beyond this size (osync's helper lets it grow forever). */
const PUSH_FILE_MAX_BYTES = 65536;

// $1 initiator root, $2 the line.
const PUSH_SCRIPT = [
  'dir=$1',
  `[ -d "$dir" ] || exit ${NO_INITIATOR_DIR}`,
  `f="$dir/${PUSH_FILE}"`,
  `if [ -f "$f" ] && [ "$(wc -c < "$f")" -gt ${PUSH_FILE_MAX_BYTES} ]; then : > "$f"; fi`,
  `printf '%s\\n' "$2" >> "$f"`,
].join('\n');

/** The initiator as the target helper reaches it: a local directory or an ssh:// URI. */
export function helperInitiator(config: Config, cwd: string, localUser: string): Replica {
  const dir = config.initiatorSyncDir;
  if (!dir.startsWith('ssh://')) {
    const root = path.resolve(cwd, dir);
    return { side: 'initiator', root, workDir: `${root}/${WORKDIR}`, stateDir: `${root}/${WORKDIR}/state` };
  }
  const t = parseSshUri(dir, localUser);
  const opts = sshOptionsFor(config);
  const root = t.path.length > 1 ? t.path.replace(/\/+$/, '') : t.path;
  return {
    side: 'initiator',
    root,
    workDir: `${root}/${WORKDIR}`,
    stateDir: `${root}/${WORKDIR}/state`,
    remote: {
      target: t,
      sshArgv: sshArgv(opts, t),
      rsyncShell: rsyncRemoteShell(opts, t),
      rsyncPath: rsyncPath(config.rsyncRemotePath, config.rsyncExecutable, config.remoteToken, config.sudoExec),
      sudo: config.sudoExec,
      token: config.remoteToken,
    },
  };
}

/** Append a push line on the initiator: { exitCode, stderr } of the script. */
export async function notifyInitiator(runner: Runner, initiator: Replica, line: string): Promise<{ exitCode: number; stderr: string }> {
  const r = await runner.runScript(initiator, PUSH_SCRIPT, [initiator.root, line], { timeoutMs: 60_000 });
  return { exitCode: r.exitCode, stderr: r.stderr };
}
