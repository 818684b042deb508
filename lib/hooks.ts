// Execution hooks (osync §8): LOCAL_/REMOTE_RUN_BEFORE_CMD and _AFTER_CMD.
//
// Local hooks run as `sh -c <cmd>` in the caller's cwd, in their own process group
// (so MAX_EXEC_TIME_PER_CMD_* and a stop signal kill the hook AND whatever it
// started). Environment: the caller's environment plus
//   INSTANCE_ID        the instance id
//   INITIATOR_SYNC_DIR the initiator replica root, with a trailing slash (as osync)
//   TARGET_SYNC_DIR    the target root with a trailing slash (local target), or the
//                      ssh://… URI as configured (remote target)
//   LC_ALL=C
// Remote hooks (target over ssh only) run as
//   ssh … "env _REMOTE_TOKEN=… env LC_ALL=C [sudo ]env INSTANCE_ID=… TARGET_SYNC_DIR=<remote root>/ sh -c <cmd>"
// Difference from osync: with SUDO_EXEC=true the remote hook runs under sudo (osync
// runs it as the ssh user), and the whole command string is given to `sh -c`, so
// every `;`-separated part sees the variables (osync prefixes only the first one).
import type { Config, RunFlags } from './config/types.js';
import type { Runner, RunResult } from './proc/run.js';
import { displayRoot, type Replica } from './replica.js';
import type { Logger } from './report/log.js';
import { watchTask } from './timelimit.js';

export type HookWhen = 'before' | 'after';

export interface HookContext {
  config: Config;
  flags: RunFlags;
  log: Logger;
  runner: Runner;
  replicas: { initiator: Replica; target: Replica };
  cwd: string;
}

/** osync truncates command output it logs to the first 16 KiB. */
const OUTPUT_LIMIT = 16384;

/**
 * Runs the local and remote hook of one kind, in parallel, and logs osync's lines.
 * Returns false when a hook was configured and failed (non-zero, killed or timed out).
 */
export async function runHooks(ctx: HookContext, when: HookWhen): Promise<boolean> {
  const { config } = ctx;
  const local = when === 'before' ? config.localRunBeforeCmd : config.localRunAfterCmd;
  const remote = when === 'before' ? config.remoteRunBeforeCmd : config.remoteRunAfterCmd;
  const limit = when === 'before' ? config.maxExecTimePerCmdBefore : config.maxExecTimePerCmdAfter;
  const jobs: Promise<boolean>[] = [];
  if (local.trim() !== '') jobs.push(runLocal(ctx, local, limit));
  if (remote.trim() !== '') {
    if (ctx.replicas.target.remote) jobs.push(runRemote(ctx, remote, limit));
    else ctx.log.warn(`Ignoring remote command [${remote}] because remote host is not configured.`);
  }
  const results = await Promise.all(jobs);
  return results.every(Boolean);
}

function hookEnv(ctx: HookContext): Record<string, string> {
  const { config, replicas } = ctx;
  return {
    INSTANCE_ID: config.instanceId,
    INITIATOR_SYNC_DIR: displayRoot(replicas.initiator),
    TARGET_SYNC_DIR: replicas.target.remote ? config.targetSyncDir : displayRoot(replicas.target),
    LC_ALL: 'C',
  };
}

async function runLocal(ctx: HookContext, cmd: string, limitSeconds: number): Promise<boolean> {
  const { log, runner, flags } = ctx;
  if (flags.dry) {
    log.notice(`Dryrun: Local command [${cmd}] not run.`);
    return true;
  }
  log.notice(`Running command [${cmd}] on local host.`);
  const result = await supervised(ctx, 'RunLocalCommand', limitSeconds, (timeoutMs) =>
    runner.run(['sh', '-c', cmd], { env: hookEnv(ctx), noBaseEnv: true, cwd: ctx.cwd, processGroup: true, timeoutMs }),
  );
  return report(ctx, result);
}

async function runRemote(ctx: HookContext, cmd: string, limitSeconds: number): Promise<boolean> {
  const { log, runner, flags, config, replicas } = ctx;
  const target = replicas.target;
  if (flags.dry) {
    log.notice(`Dryrun: Remote command [${cmd}] not run.`);
    return true;
  }
  const host = target.remote!.target.host;
  log.notice(`Running command [${cmd}] on remote host [${host}]${target.remote!.sudo ? ' with sudo' : ''}.`);
  const words = [
    'env',
    `INSTANCE_ID=${config.instanceId}`,
    `INITIATOR_SYNC_DIR=${displayRoot(replicas.initiator)}`,
    `TARGET_SYNC_DIR=${displayRoot(target)}`,
    'LC_ALL=C',
    'sh',
    '-c',
    cmd,
  ];
  const result = await supervised(ctx, 'RunRemoteCommand', limitSeconds, (timeoutMs) =>
    runner.runOn(target, words, { processGroup: true, timeoutMs }),
  );
  return report(ctx, result);
}

/** Runs one hook under its own time limit and KEEP_LOGGING keep-alive lines. */
async function supervised(
  ctx: HookContext,
  task: string,
  limitSeconds: number,
  start: (timeoutMs: number | undefined) => Promise<RunResult>,
): Promise<RunResult> {
  const { log, runner, config } = ctx;
  let hardHit = false;
  const watch = watchTask({
    log,
    task,
    since: Date.now(),
    soft: 0,
    hard: 0,
    keepLogging: config.keepLogging,
    pids: () => runner.livePids(),
  });
  try {
    // The kill itself is done by the Runner (process group, SIGKILL 5 s later).
    const result = await start(limitSeconds > 0 ? limitSeconds * 1000 : undefined);
    hardHit = result.timedOut;
    return result;
  } finally {
    watch.stop();
    if (hardHit) {
      log.error(`Max hard execution time [${limitSeconds}] exceeded for task [${task}]. Stopping task execution.`);
      log.notice('Task stopped successfully.');
    }
  }
}

function report(ctx: HookContext, r: RunResult): boolean {
  const { log, flags } = ctx;
  const ok = r.exitCode === 0 && !r.killed;
  const output = (r.stdout + r.stderr).trim();
  if (ok) log.notice('Command succeded.');
  else log.error(`Command failed. ${r.timedOut ? 'Killed after its time limit.' : r.killed ? 'Killed.' : `Exit code [${r.exitCode}].`}`);
  if (output !== '' && (!ok || flags.verbose)) {
    const text = Buffer.from(output, 'latin1').subarray(0, OUTPUT_LIMIT).toString('utf8');
    log.notice(`Truncated output:\n${text}`);
  }
  return ok;
}
