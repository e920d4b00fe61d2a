/**
 * Every stage a job reports has a label in the app, and no label waits for a stage nobody reports. The compiler
 * checks one direction (ProgressMeter takes the contract's JobStage, the labels are a Record over it); this
 * reads the engine's sources for the other.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { STAGE_LABELS } from '../../main/shared/stages';
import { sourceFiles } from '../support/source';

const PATTERNS = [/new ProgressMeter\(\s*'([^']+)'/g, /\bstage(?:\s*:|\s*=|\s*\?\?)\s*'([^']+)'/g];

function emittedStages(): Set<string> {
  const stages = new Set<string>();
  for (const { text } of sourceFiles('main', ['.ts'])) {
    for (const pattern of PATTERNS) for (const m of text.matchAll(pattern)) stages.add(m[1]!);
  }
  return stages;
}

test('the stages the jobs report are exactly the stages the app labels', () => {
  const emitted = emittedStages();
  assert.ok(emitted.has('writing') && emitted.has('growing root'), 'the scan finds the engine stages');
  assert.deepEqual([...emitted].sort(), Object.keys(STAGE_LABELS).sort());
});

test('every label is a sentence-case phrase distinct from the others', () => {
  const labels = Object.values(STAGE_LABELS);
  for (const label of labels) assert.match(label, /^[A-Z][a-z]/);
  assert.equal(new Set(labels).size, labels.length);
});
