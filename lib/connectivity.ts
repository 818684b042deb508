// Before talking to a remote target: the local tools it needs exist, and (when asked)
// the remote host and the 3rd-party hosts answer a ping. Ping failures are warnings,
// as in osync; the sync still runs.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config/types.js';
import type { Runner } from './proc/run.js';
import type { Replica } from './replica.js';
import type { Logger } from './report/log.js';
import { ReplicaError } from './replica-check.js';

/** Whether a program is on PATH (no process started). */
export function onPath(program: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (program.includes('/')) return isExecutable(program);
  return (env.PATH ?? '').split(':').some((dir) => dir && isExecutable(path.join(dir, program)));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Local programs the run needs; a missing one stops the run before anything is touched. */
export function checkLocalTools(config: Config, target: Replica): void {
  const needed = [config.rsyncExecutable || 'rsync'];
  if (target.remote) {
    needed.push(target.remote.sshArgv[0]);
    if (target.remote.sshArgv[0] === 'sshpass') needed.push('ssh');
  }
  for (const p of needed) {
    if (!onPath(p)) {
      const hint = p === 'sshpass' ? ' SSH_PASSWORD_FILE needs sshpass (apt-get install sshpass), or use SSH_RSA_PRIVATE_KEY.' : '';
      throw new ReplicaError(`${p} not present. Cannot start sync.${hint}`);
    }
  }
}

export async function pingHosts(runner: Runner, log: Logger, config: Config, target: Replica): Promise<void> {
  if (!target.remote) return;
  const wanted = config.remote3rdPartyHosts.length > 0 || config.remoteHostPing;
  if (!wanted) return;
  if (!onPath('ping')) {
    log.verbose('ping is not installed: skipping REMOTE_HOST_PING / REMOTE_3RD_PARTY_HOSTS checks.');
    return;
  }
  const ping = async (host: string) => (await runner.run(['ping', '-c', '2', '-i', '.2', '-W', '2', host], { timeoutMs: 15000 })).exitCode;
  if (config.remote3rdPartyHosts.length) {
    let answered = false;
    for (const h of config.remote3rdPartyHosts) {
      const code = await ping(h);
      if (code === 0) {
        answered = true;
        break;
      }
      log.notice(`Cannot ping 3rd party host [${h}]. Return code [${code}].`);
    }
    if (!answered) log.warn('No remote 3rd party host responded to ping. No internet ?');
  }
  if (config.remoteHostPing) {
    const host = target.remote.target.host;
    const code = await ping(host);
    if (code !== 0) log.warn(`Cannot ping [${host}]. Return code [${code}].`);
  }
}
