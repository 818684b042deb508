// What the screen gets, decided in one place from the flags and what the terminal can do:
//   tasks   listr2's phase list, log lines printed above it, progress under the running phase
//   lines   the plain log lines, as osync prints them (cron, a pipe, TERM=dumb, a terminal
//           without a usable width, --non-interactive, --errors-only)
//   silent  nothing (--silent; the log file is still written)
//   json    the JSON document alone on stdout, the log lines on stderr (--json)
// And whether those lines are coloured: NO_COLOR, FORCE_COLOR and TERM=dumb are honoured,
// and there is no colour when the lines do not go to a terminal (cron mail, journald).
import type { RunFlags } from '../config/types.js';

export type Display = 'tasks' | 'lines' | 'silent' | 'json';

/** The part of a stream (process.stdout/stderr) that says what it is connected to. */
export interface Screen {
  isTTY?: boolean;
  columns?: number;
}

/** Narrower than this, listr2's list wraps into a column of single characters. */
const MIN_COLUMNS = 20;

export function chooseDisplay(
  flags: Pick<RunFlags, 'silent' | 'errorsOnly' | 'nonInteractive' | 'json'>,
  env: NodeJS.ProcessEnv,
  stdout: Screen,
): Display {
  if (flags.json) return 'json';
  if (flags.silent) return 'silent';
  if (flags.nonInteractive || flags.errorsOnly) return 'lines';
  if (!stdout.isTTY || env.TERM === 'dumb' || !((stdout.columns ?? 0) >= MIN_COLUMNS)) return 'lines';
  return 'tasks';
}

/** Colour for lines written to `stream`. FORCE_COLOR wins (as in Node itself): set to
 *  anything but 0/false it forces colour, set to 0/false it turns it off; then a
 *  non-empty NO_COLOR or TERM=dumb turn it off; otherwise colour only on a terminal. */
export function useColour(stream: Screen, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.NO_COLOR) return false;
  if (env.TERM === 'dumb') return false;
  return !!stream.isTTY;
}
