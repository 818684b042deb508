/** Kept equal to package.json's version (a test checks it). */
export const VERSION = '0.1.0';
/** The osync release whose behaviour, files and flags osync-ts follows. */
export const OSYNC_COMPAT = '1.3.0';
