#!/usr/bin/env node
// osync-ts command line: `osync <file.conf|file.env> [flags]` or
// `osync --initiator=DIR --target=DIR|ssh://user@host:port//path [flags]`.
import { main } from '../lib/main.js';

// osync creates everything with umask 077 (state, logs, trash dirs, and synced
// files when PRESERVE_PERMISSIONS=false).
process.umask(0o077);
const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: (t) => process.stdout.write(t),
});
process.exitCode = code;
