// End-to-end: odd file names with a local target (scenarios in test/scenarios/names.ts,
// run again over ssh by names-remote).
import { nameScenarios } from './scenarios/names.js';

nameScenarios('local');
