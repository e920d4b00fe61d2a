/** The Phase rule's pieces that need no card: golden-release's text both ways, the first-boot rule, the refusal. */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  applyPhaseRule,
  firstBootOf,
  goldenReleaseText,
  linkClones,
  parentOfManifest,
  parseGoldenRelease,
  RELEASE_KEYS as K,
} from '../../main/engine/library/lineage';
import { isAtlasError } from '../../main/engine/errors';

const FIELDS = {
  [K.phase]: '0',
  [K.name]: 'ods-atlas-golden-v8-1-FIELD',
  [K.version]: '8',
  [K.patch]: '1',
  [K.tag]: 'FIELD',
  [K.baseImage]: 'Armbian 26.2.1 (copy).img',
  [K.armbianVersion]: '26.2.1',
  [K.created]: '2026-03-01T12:00:00Z',
  [K.mountCount]: '3',
  [K.lastMount]: '1772366400',
};

test('golden-release is shell text later phases source, and reads back as the release it names', () => {
  const text = goldenReleaseText(FIELDS).toString();
  assert.match(text, /^BASE_IMAGE='Armbian 26\.2\.1 \(copy\)\.img'$/m, 'quoted for the shell');
  assert.deepEqual(parseGoldenRelease(text), {
    parent: {
      image: 'ods-atlas-golden-v8-1-FIELD.img',
      name: 'ods-atlas-golden-v8-1-FIELD',
      version: 8,
      patch: 1,
      tag: 'FIELD',
      armbianVersion: '26.2.1',
      created: '2026-03-01T12:00:00Z',
    },
    fingerprint: { mountCount: 3, lastMountTime: 1772366400 },
  });
});

test('a golden-release without the fingerprint (older Atlas) names the parent but cannot tell the first boot', () => {
  const { [K.mountCount]: _c, [K.lastMount]: _t, ...older } = FIELDS;
  const release = parseGoldenRelease(goldenReleaseText(older).toString());
  assert.equal(release?.fingerprint, null);
  assert.deepEqual(applyPhaseRule('/dev/sdc', release, { mountCount: 3, lastMountTime: 1772366400 }, false), {
    parent: release?.parent,
    firstBoot: 'unknown',
    allowedUnbooted: false,
  });
  assert.equal(
    parseGoldenRelease('GOLDEN_VERSION=8\n'),
    null,
    'not a release without version, patch and tag',
  );
});

test('first boot: the mount time moved, or the count grew; e2fsck resetting the count is no boot', () => {
  const recorded = { mountCount: 3, lastMountTime: 1000 };
  assert.equal(firstBootOf(recorded, { mountCount: 3, lastMountTime: 1000 }), 'not-run');
  assert.equal(firstBootOf(recorded, { mountCount: 0, lastMountTime: 1000 }), 'not-run', 'e2fsck reset');
  assert.equal(firstBootOf(recorded, { mountCount: 4, lastMountTime: 2000 }), 'ran');
  // a Pi without a clock may mount with a time older than Insert's: still a boot
  assert.equal(firstBootOf(recorded, { mountCount: 4, lastMountTime: 10 }), 'ran');
  assert.equal(firstBootOf(recorded, { mountCount: 0, lastMountTime: 2000 }), 'ran', 'booted, then e2fsck');
  assert.equal(firstBootOf(recorded, { mountCount: 4, lastMountTime: 1000 }), 'ran', 'same second');
  assert.equal(firstBootOf(null, recorded), 'unknown');
});

test('the refusal says what to do in the app’s words; the override is recorded only when it was needed', () => {
  const release = parseGoldenRelease(goldenReleaseText(FIELDS).toString())!;
  const unbooted = { mountCount: 3, lastMountTime: 1772366400 };
  assert.throws(
    () => applyPhaseRule('/dev/sdc', release, unbooted, false),
    (e) =>
      isAtlasError(e, 'PHASE_RULE') &&
      /ods-atlas-golden-v8-1-FIELD\.img/.test(e.message) &&
      /flash it, let it boot, then clone/.test(e.message) &&
      !e.message.includes('--'),
  );
  assert.equal(applyPhaseRule('/dev/sdc', release, unbooted, true).allowedUnbooted, true);
  const booted = { mountCount: 4, lastMountTime: 1772370000 };
  assert.deepEqual(applyPhaseRule('/dev/sdc', release, booted, true), {
    parent: release.parent,
    firstBoot: 'ran',
    allowedUnbooted: false,
  });
  assert.deepEqual(applyPhaseRule('/dev/sdc', null, booted, false), {
    parent: null,
    firstBoot: 'unknown',
    allowedUnbooted: false,
  });
});

test('the Library reads the lineage from a manifest and links golden images to their clones', () => {
  assert.deepEqual(parentOfManifest(null), {});
  assert.deepEqual(parentOfManifest({ lineage: 'junk' }), {});
  assert.deepEqual(
    parentOfManifest({
      lineage: { parent: { image: 'ods-atlas-golden-v8-1-F.img' }, allowedUnbooted: true },
    }),
    { parent: 'ods-atlas-golden-v8-1-F.img', unbooted: true },
  );
  const artifacts: Array<{ kind: string; name: string; parent?: string; clones?: string[] }> = [
    { kind: 'golden-image', name: 'ods-atlas-golden-v8-1-F.img' },
    { kind: 'golden-image', name: 'ods-atlas-golden-v9-0-G.img' },
    { kind: 'clone-folder', name: 'golden-clone-B', parent: 'ods-atlas-golden-v8-1-F.img' },
    { kind: 'clone-folder', name: 'golden-clone-A', parent: 'ods-atlas-golden-v8-1-F.img' },
    { kind: 'clone-folder', name: 'golden-clone-A', parent: 'ods-atlas-golden-v8-1-F.img' },
    { kind: 'clone-folder', name: 'golden-clone-SHELL' },
  ];
  linkClones(artifacts);
  assert.deepEqual(artifacts[0]!.clones, ['golden-clone-A', 'golden-clone-B']);
  assert.equal(artifacts[1]!.clones, undefined);
});
