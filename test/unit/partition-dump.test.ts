/** Pure logic of the sfdisk dump text: device names, quoting, parsing and its error messages. */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  formatSfdiskDump,
  growLastPartition,
  parseSfdiskDump,
  partitionDevicePath,
} from '../../main/engine/partition';
import { isAtlasError } from '../../main/engine/errors';

test('partitionDevicePath follows sfdisk and macOS naming', () => {
  assert.equal(partitionDevicePath('/dev/sdc', 1), '/dev/sdc1');
  assert.equal(partitionDevicePath('/dev/mmcblk0', 1), '/dev/mmcblk0p1');
  assert.equal(partitionDevicePath('/dev/loop0', 2), '/dev/loop0p2');
  assert.equal(partitionDevicePath('/dev/nvme0n1', 1), '/dev/nvme0n1p1');
  assert.equal(partitionDevicePath('/dev/disk4', 1), '/dev/disk4s1');
  assert.equal(partitionDevicePath('/dev/rdisk4', 2), '/dev/rdisk4s2');
  assert.equal(partitionDevicePath('disk.img', 1), 'disk.img1');
  assert.equal(partitionDevicePath('/tmp/card2', 1), '/tmp/card2p1');
});

test('format → parse round trip keeps names with quotes, backslashes, $ and non-ASCII', () => {
  const table = parseSfdiskDump(
    'label: gpt\nlabel-id: 6A1B2C3D-0000-4000-8000-00000000ABCD\nfirst-lba: 2048\nlast-lba: 65502\n\n' +
      'start=2048, size=2048, type=L, uuid=11111111-2222-4333-8444-555555555555, name="a\\x22b\\x5cc \\x24d caf\\xc3\\xa9 `x`"\n',
  );
  assert.equal(table.partitions[0]!.name, 'a"b\\c $d café `x`');
  const text = formatSfdiskDump(table, '/dev/sdc');
  assert.match(text, /name="a\\x22b\\x5cc \\x24d caf\\xc3\\xa9 \\x60x\\x60"/);
  assert.deepEqual(parseSfdiskDump(text), table);
});

test('a dump without a device header prints partition numbers', () => {
  const text = formatSfdiskDump(
    parseSfdiskDump('label: dos\nlabel-id: 0x1\n\n1: start=2048, size=100, type=83\n'),
    '',
  );
  assert.equal(
    text,
    'label: dos\nlabel-id: 0x00000001\nunit: sectors\nsector-size: 512\n\n1 : start=        2048, size=         100, type=83\n',
  );
});

const MALFORMED: [string, string, number][] = [
  ['unknown header', 'label: dos\nfoo: bar\n', 2],
  ['unit not sectors', 'label: dos\nunit: cylinders\n', 2],
  ['unsupported label', 'label: dos\nlabel: sun\n', 2],
  ['bad label-id', 'label: dos\nlabel-id: xyz\n\nstart=2048, size=10\n', 2],
  ['start not a number', 'label: dos\n\nstart=abc, size=10\n', 3],
  ['unknown field', 'label: dos\n# c\nstart=2048, size=100, colour=red\n', 3],
  ['bad GPT type', 'label: gpt\n\nstart=2048, size=100, type=notaguid\n', 3],
  ['bad dos type', 'label: dos\n\nstart=2048, size=100, type=xyz\n', 3],
  ['header after partitions', 'label: dos\nstart=2048, size=100, type=83\nlabel-id: 0x1\n', 3],
  ['unclosed quote', 'label: gpt\nstart=2048, size=100, name="abc\n', 2],
  ['duplicate number', 'label: dos\n1 : start=2048, size=100\n1 : start=4096, size=100\n', 3],
  ['size zero', 'label: dos\r\n\r\nstart=2048, size=0\r\n', 3],
  ['bootable with a value', 'label: dos\nstart=2048, size=100, bootable=yes\n', 2],
  ['bad bootable mark', 'label: dos\n2048,100,83,x\n', 2],
  ['garbage after a value', 'label: dos\nstart=2048x, size=100\n', 2],
  ['uuid not a GUID', 'label: gpt\nstart=2048, size=100, uuid=1234\n', 2],
  ['bad attrs', 'label: gpt\nstart=2048, size=100, attrs="Hidden"\n', 2],
  ['GPT field in a dos dump', 'label: dos\nstart=2048, size=100, name="x"\n', 2],
  ['logical without extended', 'label: dos\n5 : start=2048, size=100\n', 2],
];

for (const [what, text, line] of MALFORMED) {
  test(`malformed dump (${what}) → MALFORMED_DUMP naming line ${line}`, () => {
    assert.throws(
      () => parseSfdiskDump(text, { totalSectors: 1 << 20 }),
      (e) =>
        isAtlasError(e, 'MALFORMED_DUMP') && e.details.line === line && e.message.includes(`line ${line}:`),
    );
  });
}

test('an empty dump is MALFORMED_DUMP; without a label header it is dos, as sfdisk makes it', () => {
  for (const text of ['', '\n# nothing\n\n']) {
    assert.throws(
      () => parseSfdiskDump(text),
      (e) => isAtlasError(e, 'MALFORMED_DUMP'),
    );
  }
  assert.equal(parseSfdiskDump('start=2048, size=100\n').label, 'dos');
});

test('an open last size without the target size asks for it', () => {
  assert.throws(
    () => parseSfdiskDump('label: dos\n\nstart=2048, type=83\n'),
    (e) => isAtlasError(e, 'INVALID_ARGUMENT') && /line 3/.test(e.message),
  );
  const t = parseSfdiskDump('label: dos\nlabel-id: 0x1\n\nstart=2048, type=83\n', { totalSectors: 10000 });
  assert.equal(t.partitions[0]!.size, 10000 - 2048);
});

test('growLastPartition grows the last partition by start, and an extended one around a logical last', () => {
  const dos = parseSfdiskDump(
    'label: dos\nlabel-id: 0x1\n\n2 : start=100000, size=1000, type=83\n1 : start=2048, size=8192, type=c\n',
  );
  const grown = growLastPartition(dos, 500000);
  assert.deepEqual(
    grown.partitions.map((p) => [p.number, p.start, p.size]),
    [
      [1, 2048, 8192],
      [2, 100000, 400000],
    ],
  );
  assert.equal(dos.partitions.find((p) => p.number === 2)!.size, 1000, 'the input table is not changed');
  const logical = parseSfdiskDump(
    'label: dos\nlabel-id: 0x1\n\nstart=2048, size=8192, type=c\nstart=10240, size=20000, type=5\nstart=12288, size=4000, type=83\n',
  );
  const g2 = growLastPartition(logical, 100000);
  assert.deepEqual(
    g2.partitions.map((p) => [p.number, p.start, p.size]),
    [
      [1, 2048, 8192],
      [2, 10240, 89760],
      [5, 12288, 87712],
    ],
  );
  const gpt = parseSfdiskDump(
    'label: gpt\nlabel-id: 6A1B2C3D-0000-4000-8000-00000000ABCD\nlast-lba: 65502\n\nstart=2048, size=2048, type=L\n',
  );
  const g3 = growLastPartition(gpt, 131072);
  assert.equal(g3.lastLba, 131072 - 34);
  assert.equal(g3.partitions[0]!.start + g3.partitions[0]!.size - 1, 131072 - 34);
  assert.throws(
    () => growLastPartition(dos, 50000),
    (e) => isAtlasError(e, 'TARGET_TOO_SMALL'),
  );
});
