#!/usr/bin/env node
// osync-batch command line: `osync-batch --path=/etc/osync [--max-runs=N]
// [--max-exec-time=S] [osync flags]` (lib/batch.ts).
import fs from 'node:fs';
import path from 'node:path';
import { runBatch } from '../lib/batch.js';

// The osync bin beside this one (dist/osync.mjs beside dist/osync-batch.mjs, or
// scripts/osync.ts in a checkout), run by the same node with the same node flags.
const self = fs.realpathSync(process.argv[1]!);
const osync = path.join(path.dirname(self), `osync${path.extname(self)}`);

process.umask(0o077);
process.exitCode = await runBatch({
  argv: process.argv.slice(2),
  cwd: process.cwd(),
  env: process.env,
  stdout: (t) => process.stdout.write(t),
  osync: [process.execPath, ...process.execArgv, osync],
});
