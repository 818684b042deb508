// The settled configuration of one run: osync's keys after file, environment,
// defaults and flags have been merged and validated. Everything downstream reads
// this object only; nothing reads process.env or the conf file again.

export type Side = 'initiator' | 'target';
export type SyncType = 'bidirectional' | 'initiator2target' | 'target2initiator';

export interface Config {
  /** 'conf' when a config file was given, 'quick' for --initiator/--target. */
  mode: 'conf' | 'quick';
  /** Absolute path of the config file (conf mode). */
  confFile?: string;

  // [GENERAL]
  instanceId: string;
  /** Local path, one trailing slash removed (as given otherwise; relative allowed). */
  initiatorSyncDir: string;
  /** Local path or ssh://[user@]host[:port]//path */
  targetSyncDir: string;
  sshRsaPrivateKey: string;
  sshPasswordFile: string;
  krb5: boolean;
  remoteToken: string;
  createDirs: boolean;
  /** '' means osync's default location. */
  logFile: string;
  /** KiB; 0 disables the check. */
  minimumSpace: number;
  /** KiB/s; 0 = unlimited. */
  bandwidth: number;
  sudoExec: boolean;
  rsyncExecutable: string;
  rsyncRemotePath: string;
  /** 'none' when the value was bogus: osync then drops all user patterns. */
  rsyncPatternFirst: 'include' | 'exclude' | 'none';
  rsyncIncludePattern: string[];
  rsyncExcludePattern: string[];
  /** Absolute paths of existing pattern files, or '' (osync drops missing files silently). */
  rsyncIncludeFrom: string;
  rsyncExcludeFrom: string;
  initiatorCustomStateDir: string;
  targetCustomStateDir: string;

  // [REMOTE_OPTIONS]
  sshCompression: boolean;
  /** Extra ssh arguments, already split into words. */
  sshOptionalArgs: string[];
  sshIgnoreKnownHosts: boolean;
  sshControlmaster: boolean;
  remoteHostPing: boolean;
  remote3rdPartyHosts: string[];

  // [MISC_OPTIONS]
  /** Extra rsync arguments, already split into words. */
  rsyncOptionalArgs: string[];
  preservePermissions: boolean;
  preserveOwner: boolean;
  preserveGroup: boolean;
  preserveExecutability: boolean;
  preserveAcl: boolean;
  preserveXattr: boolean;
  copySymlinks: boolean;
  keepDirlinks: boolean;
  preserveHardlinks: boolean;
  checksum: boolean;
  rsyncCompress: boolean;
  softMaxExecTime: number;
  hardMaxExecTime: number;
  keepLogging: number;
  minWait: number;
  maxWait: number;

  // [BACKUP_DELETE_OPTIONS]
  logConflicts: boolean;
  alertConflicts: boolean;
  conflictBackup: boolean;
  conflictBackupMultiple: boolean;
  /** osync-ts: also keep a conflict's losing version beside the file, "name (conflict … side).ext". */
  conflictCopyBeside: boolean;
  conflictBackupDays: number;
  conflictPrevalance: Side;
  softDelete: boolean;
  softDeleteDays: number;
  skipDeletion: Side[];
  syncType: SyncType;
  /** osync-ts deletion guard: refuse a run deleting more than this % of a replica's files (100 = off). */
  maxDeletePercent: number;
  /** osync-ts deletion guard: refuse a run deleting more than this many files on a replica (0 = no limit). */
  maxDeleteCount: number;
  /** osync-ts deletion guard: the percentage and emptied-replica rules refuse a run only when it
   *  would delete at least this many files on a replica (a share of a handful of files means nothing). */
  deleteGuardMinFiles: number;

  // [RESUME_OPTIONS]
  resumeSync: boolean;
  resumeTry: number;
  forceStrangerLockResume: boolean;
  partial: boolean;
  deltaCopies: boolean;

  // [ALERT_OPTIONS]
  destinationMails: string[];
  alwaysSendMails: boolean;
  mailBodyCharset: string;
  senderMail: string;
  smtpServer: string;
  smtpPort: number;
  smtpEncryption: 'none' | 'tls' | 'ssl';
  smtpUser: string;
  smtpPassword: string;
  /** osync-ts: 'auto' (osync's way: a local mailer first, SMTP_SERVER when none works) or
   *  'smtp' (SMTP_SERVER first, the local mailers as the fallback). */
  mailTransport: 'auto' | 'smtp';

  // [EXECUTION_HOOKS]
  localRunBeforeCmd: string;
  localRunAfterCmd: string;
  remoteRunBeforeCmd: string;
  remoteRunAfterCmd: string;
  maxExecTimePerCmdBefore: number;
  maxExecTimePerCmdAfter: number;
  stopOnCmdError: boolean;
  runAfterCmdOnError: boolean;
}

/** Command-line switches that are not config keys. */
export interface RunFlags {
  dry: boolean;
  silent: boolean;
  verbose: boolean;
  stats: boolean;
  summary: boolean;
  errorsOnly: boolean;
  noPrefix: boolean;
  forceUnlock: boolean;
  nonInteractive: boolean;
  initialize: boolean;
  noLocks: boolean;
  /** _DEBUG=true in the environment. */
  debug: boolean;
  /** osync-ts only (--force): let a run through the deletion guard. */
  force?: boolean;
  /** osync-ts only (--json): machine-readable output. */
  json?: boolean;
  /** osync-ts only (--list-trash): list what can be restored on both replicas. */
  listTrash?: boolean;
  /** osync-ts only (--restore=PATH): put a version of PATH back from the trash. */
  restore?: string;
  /** --from=deleted|backup: only that trash (restore, list). */
  restoreFrom?: 'deleted' | 'backup';
  /** --at=TIME: the version current at that time (restore). */
  restoreAt?: string;
  /** --side=initiator|target: only that replica's trash (restore, list). */
  restoreSide?: Side;
  /** --on-changes (initiator daemon) or --on-changes-target (target helper): monitor mode. */
  onChanges?: 'initiator' | 'target';
}

/** A warning found while loading (logged once the log file is known). */
export interface LoadResult {
  config: Config;
  flags: RunFlags;
  warnings: string[];
}

/** A problem that stops the run before anything is touched; exitCode as osync. */
export class ConfigError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'ConfigError';
  }
}
