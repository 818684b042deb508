// The fault-tolerance suite of faults.test.ts against a target on a real sshd (127.0.0.1):
// SIGKILL at every point, resume limits, a failed remote deletion, files changing during
// the run, and two runs racing for the same remote replica.
import { faultSuite, remoteMode } from './faults.test.js';
import { startSshd, type TestSshd } from './support/sshd.js';

let sshd: TestSshd | undefined;
faultSuite(
  remoteMode(() => {
    if (!sshd) throw new Error('sshd not started');
    return sshd;
  }),
  {
    setup: async () => {
      sshd = await startSshd();
    },
    teardown: async () => {
      await sshd?.stop();
    },
  },
);
