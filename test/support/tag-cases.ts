/**
 * One table of tags for every layer that checks one (test/unit/names.test.ts: shared rule, engine, handlers,
 * CLI; test/e2e/ui.test.ts: the Insert page's preview). A layer that drifts from the rule fails on a row here.
 */
export const GOOD_TAGS: readonly string[] = [
  'FLASH',
  'v8-0-6-FLASH',
  'v8-1-0-FEATURE',
  'rc.1_b-2',
  'A',
  '9',
  'x'.repeat(64),
];

export const BAD_TAGS: readonly string[] = [
  '',
  'x-',
  '-x',
  '.x',
  'x.',
  'a..b',
  'a--b',
  'a.-b',
  'a/b',
  '../x',
  'a b',
  'FLASH\n',
  'é',
  'x'.repeat(65),
];
