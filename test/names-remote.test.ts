// The same odd-name scenarios as names.test.ts, with the target over ssh.
import { nameScenarios } from './scenarios/names.js';
import { withRemoteTarget } from './support/remote-mode.js';

withRemoteTarget();
nameScenarios('remote');
