// The divergence scenarios of divergence-local, with the target over ssh.
import { divergenceScenarios } from './scenarios/divergence.js';
import { withRemoteTarget } from './support/remote-mode.js';

withRemoteTarget();
divergenceScenarios('remote');
