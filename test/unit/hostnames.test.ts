import test from 'node:test';
import assert from 'node:assert/strict';
import {
  hostnameFor,
  hostnamePatternProblem,
  hostnamesFor,
  isValidHostname,
} from '../../main/shared/hostnames';

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
