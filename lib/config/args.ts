// osync's command line (§1.3), parsed once into data: which mode, which run flags,
// and which config keys the flags set (flags win over the file and the environment).
import { ConfigError, type RunFlags } from './types.js';

export interface ParsedArgs {
  /** Set when a help/version flag was met before any error. */
  early?: 'usage' | 'version';
  /** First argument when it does not start with '-' (maybe a config file path). */
  confPath?: string;
  /** Both --initiator= and --target= were given: quick-sync, the conf path is ignored. */
  quick: boolean;
  flags: RunFlags;
  /** Config keys set by flags, as raw strings (validated with the rest). */
  overrides: Record<string, string>;
  /** --no-maxtime: zero SOFT/HARD_MAX_EXEC_TIME after validation. */
  noMaxtime: boolean;
}

export function emptyFlags(): RunFlags {
  return {
    dry: false,
    silent: false,
    verbose: false,
    stats: false,
    summary: false,
    errorsOnly: false,
    noPrefix: false,
    forceUnlock: false,
    nonInteractive: false,
    initialize: false,
    noLocks: false,
    debug: false,
    force: false,
    json: false,
  };
}

type BoolFlag = Exclude<keyof RunFlags, 'debug' | 'restore' | 'restoreFrom' | 'restoreAt' | 'restoreSide' | 'onChanges'>;

/** Switches without a value that only set a run flag. */
const SWITCHES: Record<string, BoolFlag> = {
  '--dry': 'dry',
  '--silent': 'silent',
  '--verbose': 'verbose',
  '--stats': 'stats',
  '--summary': 'summary',
  '--errors-only': 'errorsOnly',
  '--no-prefix': 'noPrefix',
  '--force-unlock': 'forceUnlock',
  '--non-interactive': 'nonInteractive',
  '--initialize': 'initialize',
  '--no-locks': 'noLocks',
  // osync-ts only
  '--force': 'force',
  '--json': 'json',
  '--list-trash': 'listTrash',
};

/** Switches without a value that set config keys. */
const KEY_SWITCHES: Record<string, Record<string, string>> = {
  '--krb5': { KRB5: 'true' },
  '--ssh-controlmaster': { SSH_CONTROLMASTER: 'true' },
  '--partial': { PARTIAL: 'true' },
  '--no-resume': { RESUME_TRY: '0' },
  '--log-conflicts': { LOG_CONFLICTS: 'true' },
  '--alert-conflicts': { ALERT_CONFLICTS: 'true', LOG_CONFLICTS: 'true' },
};

/** `--name=value` options and the config key each one sets. */
const VALUE_OPTIONS: Record<string, string> = {
  '--initiator': 'INITIATOR_SYNC_DIR',
  '--target': 'TARGET_SYNC_DIR',
  '--rsakey': 'SSH_RSA_PRIVATE_KEY',
  '--password-file': 'SSH_PASSWORD_FILE',
  '--instance-id': 'INSTANCE_ID',
  '--skip-deletion': 'SKIP_DELETION',
  '--sync-type': 'SYNC_TYPE',
  '--destination-mails': 'DESTINATION_MAILS',
  '--initiator-state-dir': 'INITIATOR_CUSTOM_STATE_DIR',
  '--target-state-dir': 'TARGET_CUSTOM_STATE_DIR',
  '--remote-token': '_REMOTE_TOKEN',
};

/** osync-ts trash options (--restore=PATH, --from=, --at=, --side=); true when `name` is one. */
function trashOption(flags: RunFlags, name: string, value: string): boolean {
  if (name === '--restore') flags.restore = value;
  else if (name === '--at') flags.restoreAt = value;
  else if (name === '--from') {
    if (value !== 'deleted' && value !== 'backup') throw new ConfigError(`Bad --from value [${value}]: expected deleted or backup.`, 1);
    flags.restoreFrom = value;
  } else if (name === '--side') {
    if (value !== 'initiator' && value !== 'target') throw new ConfigError(`Bad --side value [${value}]: expected initiator or target.`, 1);
    flags.restoreSide = value;
  } else return false;
  return true;
}

/**
 * Parses argv (without node and script). Arguments are handled in order, like osync's
 * loop: the first help/version flag returns early; an unknown option met first throws
 * ConfigError.
 */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  const flags = emptyFlags();
  const overrides: Record<string, string> = {};
  let noMaxtime = false;
  let sawInitiator = false;
  let sawTarget = false;

  for (let n = 0; n < argv.length; n++) {
    const arg = argv[n]!;
    if (arg === '-h' || arg === '--help') return result('usage');
    if (arg === '-v' || arg === '--version') return result('version');
    if (arg === '--on-changes' || arg === '--on-changes-target') {
      flags.onChanges = arg === '--on-changes' ? 'initiator' : 'target';
      continue;
    }
    const sw = SWITCHES[arg];
    if (sw) {
      flags[sw] = true;
      continue;
    }
    const keys = KEY_SWITCHES[arg];
    if (keys) {
      Object.assign(overrides, keys);
      continue;
    }
    if (arg === '--no-maxtime') {
      noMaxtime = true;
      continue;
    }
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      if (trashOption(flags, arg.slice(0, eq), arg.slice(eq + 1))) continue;
      const key = VALUE_OPTIONS[arg.slice(0, eq)];
      if (key) {
        // Deliberate fix: osync keeps the text after the LAST '=' (so
        // --initiator=/data/x=y meant "y"); we keep everything after the FIRST '='.
        overrides[key] = arg.slice(eq + 1);
        if (key === 'INITIATOR_SYNC_DIR') sawInitiator = true;
        if (key === 'TARGET_SYNC_DIR') sawTarget = true;
        continue;
      }
    }
    // The first argument, when not an option, is the config file path. osync also
    // silently accepts an unknown first argument starting with '-' in quick-sync mode;
    // we report it.
    if (n === 0 && !arg.startsWith('-')) continue;
    throw new ConfigError(`Unknown option '${arg}'`, 1);
  }
  return result();

  function result(early?: 'usage' | 'version'): ParsedArgs {
    if (env['_DEBUG'] === 'true') {
      // Only the literal `true` works, as in osync; debug implies verbose there too.
      flags.debug = true;
      flags.verbose = true;
    }
    const first = argv[0];
    return {
      ...(early ? { early } : {}),
      ...(first !== undefined && !first.startsWith('-') ? { confPath: first } : {}),
      quick: sawInitiator && sawTarget,
      flags,
      overrides,
      noMaxtime,
    };
  }
}
