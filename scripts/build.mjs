// Build the `osync` bin: an ES module bundle (dist/osync.mjs), so start-up loads a few
// files instead of resolving a hundred small modules. Code that is imported dynamically
// goes into chunks of its own (dist/chunk-*.mjs), loaded only when used: execa (not
// needed by a cron run that only lists), listr2 (a terminal) and nodemailer (a mail)
// stay out of the start-up path.
import { build } from 'esbuild';
import fs from 'node:fs';

fs.rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { osync: 'scripts/osync.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['listr2', 'nodemailer'],
  banner: {
    js: "import { createRequire as __osyncRequire } from 'node:module';\nconst require = __osyncRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
