// ACL/xattr-only changes: which items rsync's itemised dry run names, and which way each goes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeOnlyItems, attributeSources, type Ctimes } from '../lib/apply/attributes.js';

describe('attributeOnlyItems', () => {
  test('keeps items that differ in ACL or xattrs and nothing that is sent; a directory whatever its time', () => {
    const out = [
      '.f...p...a. f',
      '.d.......a. d/',
      '.d..t....a. dt/',
      '.f........x d/g',
      '.L........x link',
      '.f.......ax both',
      '.d.......a. ./',
      '>f.st.....a. changed',
      '>f+++++++++ new',
      'cd+++++++++ newdir/',
      '.f...p..... modeonly',
      '.f..t.....x touched',
      '.f......... same',
      '.f.......a. name with \\#012 newline',
      '',
    ].join('\n');
    assert.deepEqual(attributeOnlyItems(out), [
      { path: 'f', acl: true, xattr: false },
      { path: 'd', acl: true, xattr: false },
      { path: 'dt', acl: true, xattr: false },
      { path: 'd/g', acl: false, xattr: true },
      { path: 'link', acl: false, xattr: true },
      { path: 'both', acl: true, xattr: true },
      { path: '.', acl: true, xattr: false },
      { path: 'name with \\#012 newline', acl: true, xattr: false },
    ]);
  });
});

describe('attributeSources', () => {
  const items = ['i', 't', 'tie', 'gone', 'same'].map((p) => ({ path: p, acl: true, xattr: false }));
  const times = (entries: [string, number][], precise = true): Ctimes => ({ at: new Map(entries), precise });
  const initiator = times([['i', 5000.5], ['t', 1000], ['tie', 3000.2], ['same', 7000]]);
  const target = times([['i', 4000], ['t', 2000], ['tie', 3000.1], ['gone', 1], ['same', 7000]]);

  test('two-way: the newer ctime gives, to the millisecond locally; a tie goes to CONFLICT_PREVALANCE; a vanished item waits', () => {
    assert.deepEqual(attributeSources(items, { initiator, target }, { syncType: 'bidirectional', prevalence: 'initiator' }), { initiator: ['i', 'tie', 'same'], target: ['t'] });
    assert.deepEqual(attributeSources(items, { initiator, target }, { syncType: 'bidirectional', prevalence: 'target' }), { initiator: ['i', 'tie'], target: ['t', 'same'] });
  });

  test('seconds only against a remote replica: sub-second differences are a tie', () => {
    const remote = times([['i', 4000], ['t', 2000], ['tie', 3000], ['gone', 1], ['same', 7000]], false);
    assert.deepEqual(attributeSources(items, { initiator, target: remote }, { syncType: 'bidirectional', prevalence: 'target' }), { initiator: ['i'], target: ['t', 'tie', 'same'] });
  });

  test('one-way: always from the source, whatever the times', () => {
    const none = times([]);
    assert.deepEqual(attributeSources(items, { initiator: none, target: none }, { syncType: 'target2initiator', prevalence: 'initiator' }), { initiator: [], target: ['i', 't', 'tie', 'gone', 'same'] });
    assert.deepEqual(attributeSources(items, { initiator: none, target: none }, { syncType: 'initiator2target', prevalence: 'target' }).initiator.length, 5);
  });
});
