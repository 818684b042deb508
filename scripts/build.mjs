// Build the `osync` bin: an ES module bundle (dist/osync.mjs), so start-up loads a few
// files instead of resolving a hundred small modules. Code that is imported dynamically
// goes into chunks of its own (dist/chunk-*.mjs), loaded only when used: execa (not
// needed by a cron run that only lists), listr2 (a terminal) and nodemailer (a mail)
// stay out of the start-up path.
import { build } from 'esbuild';
import fs from 'node:fs';

// Monitor mode (lib/monitor/daemon.ts) is a bundle of its own, dist/osync-monitor.mjs,
// imported by the osync bin only with --on-changes: as a chunk of the osync bundle it
// would move the modules both use out of dist/osync.mjs into a shared chunk, one more
// file for every cron run to load.
const monitorApart = {
  name: 'monitor-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/monitor\/daemon\.js$/ }, () => ({ path: './osync-monitor.mjs', external: true }));
  },
};

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
  plugins: [monitorApart],
  banner: {
    js: "import { createRequire as __osyncRequire } from 'node:module';\nconst require = __osyncRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// Monitor mode and the batch runner: one file each (see monitorApart above).
await build({
  entryPoints: { 'osync-monitor': 'lib/monitor/daemon.ts', 'osync-batch': 'scripts/osync-batch.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['listr2', 'nodemailer'],
  banner: {
    js: "import { createRequire as __osyncRequire } from 'node:module';\nconst require = __osyncRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
