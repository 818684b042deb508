// The same two-way sync scenarios as sync-local, with the target over ssh.
import { syncScenarios } from './scenarios/sync.js';
import { withRemoteTarget } from './support/remote-mode.js';

withRemoteTarget();
syncScenarios('remote');
