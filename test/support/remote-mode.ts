// Run the scenario files against a target on a real loopback sshd: quickSync() then
// names the target as ssh://root@127.0.0.1:<port>/<same path>.
import { after, before } from 'node:test';
import { useRemoteTarget } from './osync.js';
import { keyPath, sshdClientArgs, startSshd, type TestSshd } from './sshd.js';

let current: TestSshd | undefined;

/** The sshd of the remote variant being run (for a test that logs in as another user). */
export function remoteSshd(): TestSshd {
  if (!current) throw new Error('No remote target: withRemoteTarget() was not called.');
  return current;
}

export function withRemoteTarget(): void {
  let sshd: TestSshd | undefined;
  before(async () => {
    sshd = await startSshd();
    current = sshd;
    useRemoteTarget({
      uriPrefix: `ssh://root@127.0.0.1:${sshd.port}/`,
      args: [`--rsakey=${keyPath(sshd, 'root')}`],
      env: { SSH_OPTIONAL_ARGS: sshdClientArgs(sshd).join(' ') },
    });
  });
  after(async () => {
    useRemoteTarget(null);
    current = undefined;
    await sshd?.stop();
  });
}
