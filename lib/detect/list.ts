// List a replica with rsync --list-only, parsing the output as it streams in.
import type { Config } from '../config/types.js';
import type { Runner } from '../proc/run.js';
import { listingArgv, rsyncMeaning } from '../proc/rsync.js';
import type { Replica } from '../replica.js';
import { parseListingLine, type Listing } from './parse-listing.js';

export interface ListResult {
  listing: Listing;
  exitCode: number;
  stderr: string;
}

export async function listReplica(runner: Runner, config: Config, r: Replica): Promise<ListResult> {
  const listing: Listing = new Map();
  const res = await runner.run(listingArgv(config, r), {
    viaSsh: !!r.remote,
    onLine: (line) => {
      const parsed = parseListingLine(line);
      if (parsed) listing.set(parsed[0], parsed[1]);
    },
  });
  return { listing, exitCode: res.exitCode, stderr: res.stderr };
}

export class ListingError extends Error {
  constructor(r: Replica, code: number, stderr: string) {
    super(`Cannot create ${r.side} replica file list in [${r.root}/]: rsync exit ${code} (${rsyncMeaning(code)}). ${firstLine(stderr)}`.trim());
  }
}

export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '';
}
