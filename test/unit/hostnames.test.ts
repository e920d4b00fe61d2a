import test from 'node:test';
import assert from 'node:assert/strict';
import {
  firstNumber,
  givenBefore,
  hostnameFor,
  hostnamePatternProblem,
  hostnamesFor,
  isValidHostname,
} from '../../main/shared/hostnames';
import { renameInHosts } from '../../main/engine/jobs/deploy/identity';

test('patterns: {n}, zero-padded {n:03}, {serial} reduced to a DNS label', () => {
  assert.equal(hostnameFor('atlas-{n}', { n: 7, serial: null }), 'atlas-7');
  assert.equal(hostnameFor('atlas-{n:03}', { n: 7, serial: null }), 'atlas-007');
  assert.equal(hostnameFor('atlas-{serial}', { n: 1, serial: 'SD_3A7F 19C2' }), 'atlas-sd-3a7f-19c2');
  assert.deepEqual(hostnamesFor('kiosk-{n:02}', [null, null, null]), ['kiosk-01', 'kiosk-02', 'kiosk-03']);
});

test('bad patterns and bad names are refused with a sentence', () => {
  assert.match(hostnamePatternProblem('') ?? '', /Type a hostname pattern/);
  assert.match(hostnamePatternProblem('atlas-{id}') ?? '', /only \{n\}/);
  assert.match(hostnamePatternProblem('atlas_{n}') ?? '', /not a hostname/);
  assert.equal(hostnamePatternProblem('atlas-{n:03}'), null);
  assert.throws(() => hostnamesFor('atlas', [null, null]), /Cards 1 and 2 would both be called atlas/);
  assert.throws(() => hostnamesFor('atlas-{serial}', ['A1', null]), /Card 2 reports no serial/);
  for (const bad of ['-atlas', 'atlas-', 'a'.repeat(64), 'Atlas', 'at las', ''])
    assert.equal(isValidHostname(bad), false, bad);
  assert.equal(isValidHostname('a'.repeat(63)), true);
});

test('a batch numbers on from the highest {n} its pattern gave before; other names and patterns do not count', () => {
  const given = (...names: string[]) => names.map((hostname) => ({ hostname }));
  assert.equal(firstNumber('atlas-{n:03}', []), 1);
  assert.equal(firstNumber('atlas-{n:03}', given('atlas-001', 'atlas-004', 'atlas-002')), 5);
  // the padding does not matter, the number does; a name of another shape is not this pattern's
  assert.equal(firstNumber('atlas-{n}', given('atlas-007', 'atlas-x', 'atlas-12b', 'kiosk-40')), 8);
  assert.equal(
    firstNumber('ATLAS-{N}', given('atlas-3')),
    1,
    '{N} is not {n}: the pattern is refused elsewhere',
  );
  assert.equal(
    firstNumber('Atlas-{n}', given('atlas-3')),
    4,
    'hostnames are lowercase, and so is the pattern',
  );
  // literal text is literal: "." matches only a dot, and the pattern is anchored at both ends
  assert.equal(firstNumber('a.{n}', given('ab9', 'a.9', 'xa.20', 'a.20x')), 10);
  assert.equal(firstNumber('{serial}-{n}', given('sd-3a-7', 'sd-9')), 10);
  assert.equal(firstNumber('atlas', given('atlas')), 1, 'no {n}: nothing to number');
  assert.deepEqual(hostnamesFor('atlas-{n:03}', [null, null], given('atlas-004')), [
    'atlas-005',
    'atlas-006',
  ]);
  assert.deepEqual(hostnamesFor('atlas-{n:03}', [null], given('atlas-999')), ['atlas-1000']);
});

test('a name given before to another card is told; the same card named again is not', () => {
  const given = [
    { hostname: 'kiosk-lobby', serial: 'S1', time: '2026-11-20T10:00:00.000Z' },
    { hostname: 'kiosk-bar', serial: null, time: '2026-11-21T10:00:00.000Z' },
  ];
  assert.deepEqual(givenBefore(['kiosk-lobby'], ['S1'], given), []);
  assert.deepEqual(givenBefore(['kiosk-lobby', 'kiosk-bar', 'kiosk-new'], ['S2', 'S3', null], given), [
    'kiosk-lobby was given to the card with serial S1 on 2026-11-20.',
    'kiosk-bar was given to another card on 2026-11-21.',
  ]);
});

test('/etc/hosts: the old name and its FQDNs renamed, comments kept, 127.0.1.1 naming the new name', () => {
  const debian = '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk-src.lan kiosk-src\n::1\tlocalhost ip6-localhost\n';
  assert.equal(
    renameInHosts(debian, 'kiosk-src', 'atlas-007'),
    '127.0.0.1\tlocalhost\n127.0.1.1\tatlas-007.lan atlas-007\n::1\tlocalhost ip6-localhost\n',
  );
  // another name that starts like the old one is not it; a comment is not an entry
  assert.equal(
    renameInHosts(
      '10.0.0.2 kiosk-src-2 kiosk-src # kiosk-src was here\n127.0.1.1 kiosk-src\n',
      'kiosk-src',
      'a-1',
    ),
    '10.0.0.2 kiosk-src-2 a-1 # kiosk-src was here\n127.0.1.1 a-1\n',
  );
  // no 127.0.1.1 entry: one is added, after a last line without its newline too
  assert.equal(renameInHosts('127.0.0.1 localhost', 'x', 'a-1'), '127.0.0.1 localhost\n127.0.1.1\ta-1\n');
  assert.equal(renameInHosts('', '', 'a-1'), '127.0.1.1\ta-1\n');
  // an empty /etc/hostname before: the 127.0.1.1 entry's names were another's, and become the new name's
  assert.equal(renameInHosts('127.0.1.1\trpi4b.lan rpi4b\n', '', 'a-1'), '127.0.1.1\ta-1.lan a-1\n');
  assert.equal(renameInHosts('127.0.1.1 rpi4b\n', '', 'a-1'), '127.0.1.1\ta-1\n');
  // the old name in another case is the old name; `localhost` is never renamed; an FQDN-looking name of another
  // entry is another host's; a 127.0.1.1 entry indented is still the entry
  assert.equal(
    renameInHosts(
      '127.0.0.1 localhost Kiosk-Src\n10.0.0.5 kiosk-src.lan\n  127.0.1.1 kiosk-src.lan KIOSK-SRC\n',
      'kiosk-src',
      'a-1',
    ),
    '127.0.0.1 localhost a-1\n10.0.0.5 kiosk-src.lan\n  127.0.1.1 a-1.lan a-1\n',
  );
  assert.equal(
    renameInHosts('127.0.0.1\tlocalhost localhost.localdomain\n::1 localhost\n', 'localhost', 'a-1'),
    '127.0.0.1\tlocalhost localhost.localdomain\n::1 localhost\n127.0.1.1\ta-1\n',
  );
  // already right: nothing changes
  assert.equal(renameInHosts('127.0.1.1\ta-1\n', 'a-1', 'a-1'), '127.0.1.1\ta-1\n');
});
