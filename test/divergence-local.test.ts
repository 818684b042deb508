// End-to-end: nothing diverges silently, local target (scenarios in test/scenarios/divergence.ts).
import { divergenceScenarios } from './scenarios/divergence.js';

divergenceScenarios('local');
