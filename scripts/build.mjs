// Build the `osync` bin: an ES module bundle (dist/osync.mjs), so start-up loads a few
// files instead of resolving a hundred small modules. Code that is imported dynamically
// goes into chunks of its own (dist/chunk-*.mjs), loaded only when used: execa (not
// needed by a cron run that only lists), listr2 (a terminal) and nodemailer (a mail)
// stay out of the start-up path.
import { build } from 'esbuild';
import fs from 'node:fs';
import { createRequire } from 'node:module';

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

// listr2 and nodemailer stay outside the bundles (loaded only on a terminal, or to send a
// mail) and are resolved as packages at run time. For a copy of dist/ that has no
// node_modules beside it (`make install`), each is also bundled into one CommonJS file
// under dist/node_modules/, which is where that resolution looks first.
// Bundled from the very file a require() of the package loads (listr2 also has an ES
// module build, which behaves differently).
const requireHere = createRequire(import.meta.url);
for (const name of ['listr2', 'nodemailer']) {
  const dir = `dist/node_modules/${name}`;
  await build({ entryPoints: [requireHere.resolve(name)], outfile: `${dir}/index.cjs`, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' });
  const { version, license } = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, 'utf8'));
  fs.writeFileSync(`${dir}/package.json`, JSON.stringify({ name, version, license, main: 'index.cjs' }, null, 2) + '\n');
}
