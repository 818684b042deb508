// The osync v1.3 configuration keys, grouped by how they are read and checked.
// Kept as plain data so the loader, the tests and the sample files agree.

/** The 26 keys osync normalises (yes/no → true/false) and, in conf mode, requires to be true/false. */
export const BOOLEAN_KEYS = [
  'CREATE_DIRS',
  'SUDO_EXEC',
  'SSH_COMPRESSION',
  'SSH_IGNORE_KNOWN_HOSTS',
  'REMOTE_HOST_PING',
  'PRESERVE_PERMISSIONS',
  'PRESERVE_OWNER',
  'PRESERVE_GROUP',
  'PRESERVE_EXECUTABILITY',
  'PRESERVE_ACL',
  'PRESERVE_XATTR',
  'COPY_SYMLINKS',
  'KEEP_DIRLINKS',
  'PRESERVE_HARDLINKS',
  'CHECKSUM',
  'RSYNC_COMPRESS',
  'CONFLICT_BACKUP',
  'CONFLICT_BACKUP_MULTIPLE',
  'SOFT_DELETE',
  'RESUME_SYNC',
  'FORCE_STRANGER_LOCK_RESUME',
  'PARTIAL',
  'DELTA_COPIES',
  'STOP_ON_CMD_ERROR',
  'RUN_AFTER_CMD_ON_ERROR',
  'SSH_CONTROLMASTER',
] as const;
export type BooleanKey = (typeof BOOLEAN_KEYS)[number];

/**
 * Keys enabled by anything other than the exact string `false` (osync tests them with
 * `!= false`). Every other boolean key is enabled only by the exact string `true`.
 */
export const ON_UNLESS_FALSE: ReadonlySet<BooleanKey> = new Set<BooleanKey>([
  'SSH_COMPRESSION',
  'REMOTE_HOST_PING',
  'PRESERVE_PERMISSIONS',
  'PRESERVE_OWNER',
  'PRESERVE_GROUP',
  'PRESERVE_EXECUTABILITY',
  'CONFLICT_BACKUP',
  'SOFT_DELETE',
  'RESUME_SYNC',
  'DELTA_COPIES',
]);

/** Numeric keys osync checks in conf mode. */
export const NUMERIC_KEYS = [
  'MINIMUM_SPACE',
  'BANDWIDTH',
  'SOFT_MAX_EXEC_TIME',
  'HARD_MAX_EXEC_TIME',
  'KEEP_LOGGING',
  'MIN_WAIT',
  'MAX_WAIT',
  'CONFLICT_BACKUP_DAYS',
  'SOFT_DELETE_DAYS',
  'RESUME_TRY',
  'MAX_EXEC_TIME_PER_CMD_BEFORE',
  'MAX_EXEC_TIME_PER_CMD_AFTER',
  // osync-ts only (deletion guard)
  'MAX_DELETE_PERCENT',
  'MAX_DELETE_COUNT',
  'DELETE_GUARD_MIN_FILES',
] as const;
export type NumericKey = (typeof NUMERIC_KEYS)[number];

/**
 * Values of the sample configuration (the "Ex." column of the reference, §2.4).
 * osync-ts uses them when a validated key is absent (or empty) in conf mode, where
 * osync would stop with "Bogus <KEY> value []" — a deliberate improvement so that
 * short .env files work.
 */
export const SAMPLE_BOOLEANS: Record<BooleanKey, boolean> = {
  CREATE_DIRS: true,
  SUDO_EXEC: false,
  SSH_COMPRESSION: false,
  SSH_IGNORE_KNOWN_HOSTS: false,
  REMOTE_HOST_PING: false,
  PRESERVE_PERMISSIONS: true,
  PRESERVE_OWNER: true,
  PRESERVE_GROUP: true,
  PRESERVE_EXECUTABILITY: true,
  PRESERVE_ACL: false,
  PRESERVE_XATTR: false,
  COPY_SYMLINKS: false,
  KEEP_DIRLINKS: false,
  PRESERVE_HARDLINKS: false,
  CHECKSUM: false,
  RSYNC_COMPRESS: true,
  CONFLICT_BACKUP: true,
  CONFLICT_BACKUP_MULTIPLE: false,
  SOFT_DELETE: true,
  RESUME_SYNC: true,
  FORCE_STRANGER_LOCK_RESUME: false,
  PARTIAL: false,
  DELTA_COPIES: true,
  STOP_ON_CMD_ERROR: true,
  RUN_AFTER_CMD_ON_ERROR: false,
  SSH_CONTROLMASTER: false,
};

export const SAMPLE_NUMBERS: Record<NumericKey, number> = {
  MINIMUM_SPACE: 10240,
  BANDWIDTH: 0,
  SOFT_MAX_EXEC_TIME: 7200,
  HARD_MAX_EXEC_TIME: 10600,
  KEEP_LOGGING: 1801,
  MIN_WAIT: 60,
  MAX_WAIT: 7200,
  CONFLICT_BACKUP_DAYS: 30,
  SOFT_DELETE_DAYS: 30,
  RESUME_TRY: 2,
  MAX_EXEC_TIME_PER_CMD_BEFORE: 0,
  MAX_EXEC_TIME_PER_CMD_AFTER: 0,
  MAX_DELETE_PERCENT: 50,
  MAX_DELETE_COUNT: 0,
  DELETE_GUARD_MIN_FILES: 10,
};

/**
 * Quick-sync defaults (§1.4), applied when the value is not a plain non-negative integer.
 * Keys missing here fall back to the defaults osync applies in both modes (see
 * EMPTY_NUMBER_DEFAULTS) or to 0.
 */
export const QUICK_NUMBERS: Partial<Record<NumericKey, number>> = {
  MINIMUM_SPACE: 1024,
  CONFLICT_BACKUP_DAYS: 30,
  SOFT_DELETE_DAYS: 30,
  RESUME_TRY: 1,
  SOFT_MAX_EXEC_TIME: 0,
  HARD_MAX_EXEC_TIME: 0,
  MAX_EXEC_TIME_PER_CMD_BEFORE: 0,
  MAX_EXEC_TIME_PER_CMD_AFTER: 0,
  MAX_DELETE_PERCENT: 50,
  MAX_DELETE_COUNT: 0,
  DELETE_GUARD_MIN_FILES: 10,
};

/** Defaults osync applies in both modes when the variable is empty. */
export const EMPTY_NUMBER_DEFAULTS: Partial<Record<NumericKey, number>> = {
  KEEP_LOGGING: 1801,
  MIN_WAIT: 60,
  MAX_WAIT: 7200,
};

/** Every v1.3 key a config file (or the environment) may set. */
export const ALL_KEYS = [
  'CONFIG_FILE_REVISION',
  // [GENERAL]
  'INSTANCE_ID',
  'INITIATOR_SYNC_DIR',
  'TARGET_SYNC_DIR',
  'SSH_RSA_PRIVATE_KEY',
  'SSH_PASSWORD_FILE',
  'KRB5',
  '_REMOTE_TOKEN',
  'CREATE_DIRS',
  'LOGFILE',
  'MINIMUM_SPACE',
  'BANDWIDTH',
  'SUDO_EXEC',
  'RSYNC_EXECUTABLE',
  'RSYNC_REMOTE_PATH',
  'RSYNC_PATTERN_FIRST',
  'RSYNC_INCLUDE_PATTERN',
  'RSYNC_EXCLUDE_PATTERN',
  'RSYNC_INCLUDE_FROM',
  'RSYNC_EXCLUDE_FROM',
  'PATH_SEPARATOR_CHAR',
  'INITIATOR_CUSTOM_STATE_DIR',
  'TARGET_CUSTOM_STATE_DIR',
  // [REMOTE_OPTIONS]
  'SSH_COMPRESSION',
  'SSH_OPTIONAL_ARGS',
  'SSH_IGNORE_KNOWN_HOSTS',
  'SSH_CONTROLMASTER',
  'REMOTE_HOST_PING',
  'REMOTE_3RD_PARTY_HOSTS',
  // [MISC_OPTIONS]
  'RSYNC_OPTIONAL_ARGS',
  'PRESERVE_PERMISSIONS',
  'PRESERVE_OWNER',
  'PRESERVE_GROUP',
  'PRESERVE_EXECUTABILITY',
  'PRESERVE_ACL',
  'PRESERVE_XATTR',
  'COPY_SYMLINKS',
  'KEEP_DIRLINKS',
  'PRESERVE_HARDLINKS',
  'CHECKSUM',
  'RSYNC_COMPRESS',
  'SOFT_MAX_EXEC_TIME',
  'HARD_MAX_EXEC_TIME',
  'KEEP_LOGGING',
  'MIN_WAIT',
  'MAX_WAIT',
  // [BACKUP_DELETE_OPTIONS]
  'LOG_CONFLICTS',
  'ALERT_CONFLICTS',
  'CONFLICT_BACKUP',
  'CONFLICT_BACKUP_MULTIPLE',
  'CONFLICT_COPY_BESIDE',
  'CONFLICT_BACKUP_DAYS',
  'CONFLICT_PREVALANCE',
  'SOFT_DELETE',
  'SOFT_DELETE_DAYS',
  'SKIP_DELETION',
  'SYNC_TYPE',
  'MAX_DELETE_PERCENT',
  'MAX_DELETE_COUNT',
  'DELETE_GUARD_MIN_FILES',
  // [RESUME_OPTIONS]
  'RESUME_SYNC',
  'RESUME_TRY',
  'FORCE_STRANGER_LOCK_RESUME',
  'PARTIAL',
  'DELTA_COPIES',
  // [ALERT_OPTIONS]
  'DESTINATION_MAILS',
  'ALWAYS_SEND_MAILS',
  'MAIL_BODY_CHARSET',
  'SENDER_MAIL',
  'SMTP_SERVER',
  'SMTP_PORT',
  'SMTP_ENCRYPTION',
  'SMTP_USER',
  'SMTP_PASSWORD',
  'MAIL_TRANSPORT',
  // [EXECUTION_HOOKS]
  'LOCAL_RUN_BEFORE_CMD',
  'LOCAL_RUN_AFTER_CMD',
  'REMOTE_RUN_BEFORE_CMD',
  'REMOTE_RUN_AFTER_CMD',
  'MAX_EXEC_TIME_PER_CMD_BEFORE',
  'MAX_EXEC_TIME_PER_CMD_AFTER',
  'STOP_ON_CMD_ERROR',
  'RUN_AFTER_CMD_ON_ERROR',
] as const;
export type ConfigKey = (typeof ALL_KEYS)[number];

/**
 * Keys osync assigns at start-up, before the conf file is read: the environment never
 * reaches them (in conf mode the file may still set them; in quick-sync only flags can).
 */
export const RESET_KEYS: ReadonlySet<string> = new Set([
  'PARTIAL',
  'DESTINATION_MAILS',
  'INITIATOR_CUSTOM_STATE_DIR',
  'TARGET_CUSTOM_STATE_DIR',
  'LOG_CONFLICTS',
  'ALERT_CONFLICTS',
]);

/** v1.0x key names, read as their v1.3 names when the v1.3 key is absent from the file. */
export const OLD_KEY_ALIASES: Readonly<Record<string, ConfigKey>> = {
  MASTER_SYNC_DIR: 'INITIATOR_SYNC_DIR',
  SLAVE_SYNC_DIR: 'TARGET_SYNC_DIR',
  SYNC_ID: 'INSTANCE_ID',
};

/**
 * Keys a config file may hold that osync v1.3 reads but osync-ts has no use for, or that
 * older osync versions wrote and v1.3 ignores (seen in osync's sample configs and test
 * configs over its history): known, so never reported as typos.
 */
export const IGNORED_KEYS: ReadonlySet<string> = new Set([
  // read by osync.sh v1.3, meaningless here (log compression, OS detection, polling)
  'COMPRESSION_LEVEL',
  'IGNORE_OS_TYPE',
  'SLEEP_TIME',
  // older osync versions
  'REMOTE_SYNC',
  'REMOTE_USER',
  'REMOTE_HOST',
  'REMOTE_PORT',
  'REMOTE_RSYNC_PATH',
  'REMOTE_3RD_PARTY_HOST',
  'VERBOSE_LOGS',
  'SLAVE_DEADLOCK_RESUME',
  'RSYNC_PATTERN_ORDER',
  'CONFLICT_WINNER',
  'CONFLICT_KEEP_BACKUP',
  'CONFLICT_KEEP_BACKUP_DAYS',
]);

/** The four path keys whose leading `~` osync expands itself, whatever the quoting. */
export const TILDE_KEYS: ReadonlySet<string> = new Set([
  'INITIATOR_SYNC_DIR',
  'TARGET_SYNC_DIR',
  'SSH_RSA_PRIVATE_KEY',
  'SSH_PASSWORD_FILE',
]);

export const REQUIRED_REVISION = '1.3.0';
