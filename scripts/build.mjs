// Build the `osync` bin: one ES module bundle (dist/osync.mjs), so start-up loads a
// single file instead of resolving a hundred small modules. listr2 and nodemailer stay
// outside the bundle: they are loaded only on a terminal / when a mail is sent.
import { build } from 'esbuild';

await build({
  entryPoints: ['scripts/osync.ts'],
  outfile: 'dist/osync.mjs',
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
