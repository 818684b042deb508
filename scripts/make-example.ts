// Lay out the bundled example (example/initiator and example/target, relative to the
// repository root) that conf/example.env syncs. Leaves existing replicas alone, so
// running `make example` again shows a no-change sync.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.join(root, 'example');

function write(rel: string, content: string): void {
  const file = path.join(example, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

if (fs.existsSync(path.join(example, 'initiator'))) {
  console.log(`example/ already exists; edit files in example/initiator or example/target and sync again.`);
} else {
  write('initiator/README.txt', 'This file starts on the initiator and is copied to the target.\n');
  write('initiator/notes/monday.txt', 'Notes written on the initiator.\n');
  write('initiator/file with spaces & $ymbols.txt', 'Odd names are fine.\n');
  write('initiator/scratch.tmp', 'Excluded by RSYNC_EXCLUDE_PATTERN: stays on the initiator only.\n');
  write('target/photos/holiday.txt', 'This file starts on the target and is copied to the initiator.\n');
  write('target/notes/tuesday.txt', 'Notes written on the target.\n');
  console.log('Created example/initiator and example/target.');
}
