// End-to-end: the two-way sync with a local target, through the real command line and
// real rsync (scenarios in test/scenarios/sync.ts, run again over ssh by sync-remote).
import { syncScenarios } from './scenarios/sync.js';

syncScenarios('local');
