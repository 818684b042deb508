// Putting osync-ts on a server: `make install` (DESTDIR, PREFIX) from a fresh copy of this
// checkout with its bins built, the installed bins run with no environment at all
// (`env -i`: no PATH to find node, rsync or sh), on a terminal (listr2 from the install
// tree, not from a node_modules), as the monitor daemon, and as the batch runner;
// `make uninstall` removes exactly what was installed; the systemd units pass
// `systemd-analyze verify`; and `npm pack` ships only what runs.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { REPO_ROOT } from './support/osync.js';
import { waitUntil } from './support/monitor.js';
import { makeConf } from './support/osync.js';
import { readTree, scratchDir, writeTree } from './support/tree.js';

let checkout: string;

/** Every file under `dir`, relative, sorted. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

function make(args: string[]) {
  const r = spawnSync('make', ['-C', checkout, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `make ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs a program with an empty environment (as `env -i`). */
function bare(argv: string[], cwd = '/') {
  return spawnSync(argv[0]!, argv.slice(1), { env: {}, cwd, encoding: 'utf8', timeout: 60_000 });
}

before(() => {
  // A fresh copy of the checkout (tracked and new files, no dist/), built as a user would.
  checkout = scratchDir('osync-ts-checkout-');
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' });
  for (const rel of listed.split('\0').filter(Boolean)) {
    if (!fs.existsSync(path.join(REPO_ROOT, rel))) continue; // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(checkout, rel)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, rel), path.join(checkout, rel));
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: checkout, stdio: 'inherit' });
});

describe('make install', () => {
  test('DESTDIR install: the file list, env -i runs of osync (plain, on a terminal, --on-changes) and osync-batch, then make uninstall', async () => {
    const stage = scratchDir('osync-ts-stage-');
    make(['install', `DESTDIR=${stage}`]);
    const installed = files(stage);
    const lib = installed.filter((f) => f.startsWith('usr/local/lib/osync-ts/'));
    assert.deepEqual(installed.filter((f) => !lib.includes(f)), [
      'etc/logrotate.d/osync-ts',
      'etc/osync/sync.conf.example',
      'usr/local/bin/osync',
      'usr/local/bin/osync-batch',
      'usr/local/bin/osync-ssh-filter',
      'usr/local/lib/systemd/system/osync-ts-run@.service',
      'usr/local/lib/systemd/system/osync-ts-run@.timer',
      'usr/local/lib/systemd/system/osync-ts-target-helper@.service',
      'usr/local/lib/systemd/system/osync-ts@.service',
      'usr/local/lib/systemd/user/osync-ts-run@.service',
      'usr/local/lib/systemd/user/osync-ts-run@.timer',
      'usr/local/lib/systemd/user/osync-ts-target-helper@.service',
      'usr/local/lib/systemd/user/osync-ts@.service',
    ]);
    // The built bundles only: no TypeScript, no sources, no test.
    assert.deepEqual(lib.filter((f) => !/\.(mjs|cjs|json)$/.test(f)), []);
    for (const f of ['osync.mjs', 'osync-batch.mjs', 'osync-monitor.mjs', 'node_modules/listr2/index.cjs', 'node_modules/nodemailer/index.cjs']) {
      assert.ok(lib.includes(`usr/local/lib/osync-ts/${f}`), f);
    }
    const unit = fs.readFileSync(path.join(stage, 'usr/local/lib/systemd/system/osync-ts@.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/osync \/etc\/osync\/%i --on-changes --errors-only$/m);
    assert.match(unit, /^SuccessExitStatus=0 2$/m);
    assert.match(unit, /^After=.*network-online\.target/m);
    assert.match(fs.readFileSync(path.join(stage, 'etc/osync/sync.conf.example'), 'utf8'), /^INSTANCE_ID=/m);

    // The installed bins, with no environment at all.
    const bin = path.join(stage, 'usr/local/bin');
    const work = scratchDir('osync-ts-installed-run-');
    const a = path.join(work, 'a');
    const b = path.join(work, 'b');
    writeTree(a, { 'x': '1', 'd/y': '2' });
    fs.mkdirSync(b);
    const logFile = path.join(work, 'osync.log');
    const conf = makeConf(path.join(work, 'confs'), { INSTANCE_ID: 'installed', INITIATOR_SYNC_DIR: a, TARGET_SYNC_DIR: b, LOGFILE: logFile, MIN_WAIT: '1', MAX_WAIT: '600' }, 'installed.conf');
    const v = bare([path.join(bin, 'osync'), '--version']);
    assert.equal(v.status, 0, v.stderr);
    const r = bare([path.join(bin, 'osync'), conf, '--summary']);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(readTree(b), readTree(a));

    // On a terminal (script(1) gives it one): the phase display, listr2 from the install tree.
    writeTree(a, { 'on-a-terminal': 't' });
    const tty = bare(['/usr/bin/script', '-qec', `${path.join(bin, 'osync')} ${conf}`, '/dev/null']);
    assert.equal(tty.status, 0, `${tty.stdout}\n${tty.stderr}`);
    assert.doesNotMatch(tty.stdout, /Cannot find|Unexpected failure/);
    assert.equal(fs.readFileSync(path.join(b, 'on-a-terminal'), 'utf8'), 't');

    // The batch runner: a directory holding that conf.
    const batch = bare([path.join(bin, 'osync-batch'), `--path=${path.dirname(conf)}`, `--log-file=${path.join(work, 'batch.log')}`]);
    assert.equal(batch.status, 0, `${batch.stdout}\n${batch.stderr}`);
    assert.match(fs.readFileSync(path.join(work, 'batch.log'), 'utf8'), /Instance installed\.conf succeed\./);

    // The daemon (the monitor bundle, and its sync children run by the same node).
    const daemon = spawn(path.join(bin, 'osync'), [conf, '--on-changes'], { env: {}, cwd: '/', stdio: 'ignore' });
    try {
      const log = () => fs.readFileSync(logFile, 'utf8');
      await waitUntil(() => `the daemon to watch:\n${log()}`, () => /#### Monitoring now\./.test(log()));
      writeTree(a, { 'while-monitored': 'm' });
      await waitUntil(() => `the change to arrive:\n${log()}`, () => fs.existsSync(path.join(b, 'while-monitored')));
    } finally {
      daemon.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => daemon.on('exit', (c) => resolve(c)));
    assert.equal(code, 0);

    // make uninstall removes exactly what was installed; a conf of the user's stays.
    fs.writeFileSync(path.join(stage, 'etc/osync/mine.conf'), 'INSTANCE_ID=mine\n');
    make(['uninstall', `DESTDIR=${stage}`]);
    assert.deepEqual(files(stage), ['etc/osync/mine.conf']);
    fs.rmSync(path.join(stage, 'etc/osync/mine.conf'));
    make(['install', `DESTDIR=${stage}`]);
    make(['uninstall', `DESTDIR=${stage}`]);
    assert.deepEqual(files(stage), []);
    assert.equal(fs.existsSync(path.join(stage, 'etc/osync')), false, 'the conf directory goes once empty');
  });

  test('the systemd units pass systemd-analyze verify (system and user)', (t) => {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      t.skip('systemd-analyze is not installed (Debian package systemd): the units are not verified');
      return;
    }
    // Installed where they can be checked as they are: ExecStart must name an existing bin.
    const root = scratchDir('osync-ts-units-');
    make(['install', `PREFIX=${root}/usr`, `SYSCONFDIR=${root}/etc`]);
    const runtime = path.join(root, 'run');
    fs.mkdirSync(runtime, { mode: 0o700 });
    for (const scope of ['system', 'user']) {
      const dir = path.join(root, 'usr/lib/systemd', scope);
      const units = fs.readdirSync(dir);
      assert.equal(units.length, 4);
      for (const u of units) {
        const text = fs.readFileSync(path.join(dir, u), 'utf8');
        assert.doesNotMatch(text, /@[A-Z]+@/, `${u}: every placeholder replaced`);
        const r = spawnSync('systemd-analyze', [...(scope === 'user' ? ['--user'] : []), 'verify', path.join(dir, u)], {
          encoding: 'utf8',
          env: { ...process.env, XDG_RUNTIME_DIR: runtime },
        });
        // verify also exits 0 for lines it ignores: anything it says is a defect.
        assert.equal(r.status, 0, `${scope}/${u}: ${r.stderr}`);
        assert.equal(r.stderr.trim(), '', `${scope}/${u}: ${r.stderr}`);
      }
    }
  });
});

test('npm pack ships only what runs: the bundles, the example conf, README and package.json', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: checkout, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const list: string[] = JSON.parse(r.stdout)[0].files.map((f: { path: string }) => f.path).sort();
  const other = list.filter((f) => !f.startsWith('dist/'));
  assert.deepEqual(other, ['README.md', 'conf/sample.conf', 'package.json']);
  assert.deepEqual(list.filter((f) => !/\.(mjs|cjs|json)$/.test(f) && f.startsWith('dist/')), []);
  const pkg = JSON.parse(fs.readFileSync(path.join(checkout, 'package.json'), 'utf8'));
  for (const bin of Object.values(pkg.bin as Record<string, string>)) assert.ok(list.includes(bin), `${bin} is in the tarball`);
  assert.ok(list.includes('dist/osync-monitor.mjs'));
  // The bundles need nothing from the registry at run time.
  assert.equal(pkg.dependencies, undefined);
});
