/**
 * The macOS differences, fed recorded outputs (test/fixtures/darwin/, see its README): diskutil's plists for an SD
 * card in the built-in reader, a USB stick, an APFS container and an attached disk image, the card reader's and the
 * USB registry's serials, drivelist's darwin records, and the drives the listing makes of them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as drivelist from 'drivelist';
import {
  cardReaderSerials,
  darwinFacts,
  SerialCache,
  darwinMounts,
  parseDiskutilInfo,
  parseDiskutilList,
  usbSerials,
  type CommandRunner,
} from '../../main/engine/platform/darwin';
import { parsePlist } from '../../main/engine/platform/plist';
import { toDrive, type Drive } from '../../main/engine/drives/list';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'darwin');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

/** Answers the commands darwinFacts runs from the fixtures, and records them. */
function recordedMac(overrides: Partial<Record<string, () => string>> = {}): {
  run: CommandRunner;
  calls: string[];
} {
  const calls: string[] = [];
  const run: CommandRunner = async (cmd, args) => {
    const line = [cmd, ...args].join(' ');
    calls.push(line);
    const override = overrides[line];
    if (override) return override();
    if (line === 'diskutil list -plist') return fixture('diskutil-list.plist');
    const info = /^diskutil info -plist (disk\d+)$/.exec(line);
    if (info) return fixture(`diskutil-info-${info[1]}.plist`);
    if (line === 'system_profiler -json SPCardReaderDataType')
      return fixture('system_profiler-SPCardReaderDataType.json');
    if (line === 'ioreg -a -r -c IOUSBHostDevice -l') return fixture('ioreg-IOUSBHostDevice.plist');
    throw new Error(`unexpected command: ${line}`);
  };
  return { run, calls };
}

test('plist: the value types diskutil and ioreg print, entities, empty elements; garbage is an error', () => {
  const value = parsePlist(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>Name</key><string>Tom &amp; Jerry&#39;s &lt;card&gt;</string>
\t<key>Empty</key><string/>
\t<key>Size</key><integer>31914983424</integer>
\t<key>Ratio</key><real>0.5</real>
\t<key>Yes</key><true/>
\t<key>No</key><false/>
\t<key>Data</key><data>
\tAAUWBw==
\t</data>
\t<key>When</key><date>2026-01-02T03:04:05Z</date>
\t<key>List</key><array><dict/><array/><string>x</string></array>
</dict>
</plist>`);
  assert.deepEqual(value, {
    Name: "Tom & Jerry's <card>",
    Empty: '',
    Size: 31914983424,
    Ratio: 0.5,
    Yes: true,
    No: false,
    Data: Buffer.from([0, 5, 0x16, 7]),
    When: new Date('2026-01-02T03:04:05Z'),
    List: [{}, [], 'x'],
  });
  assert.throws(() => parsePlist('<plist><dict><string>no key</string></dict></plist>'), /expected <key>/);
  assert.throws(() => parsePlist('not a plist'), /Cannot read a property list/);
});

test('diskutil info: an SD card in the built-in reader, a USB stick, an APFS container, a disk image', () => {
  const sd = parseDiskutilInfo(fixture('diskutil-info-disk4.plist'));
  assert.deepEqual(
    {
      device: sd.device,
      raw: sd.raw,
      wholeDisk: sd.wholeDisk,
      size: sd.size,
      blockSize: sd.blockSize,
      internal: sd.internal,
      removable: sd.removable,
      bus: sd.bus,
      mediaName: sd.mediaName,
      virtual: sd.virtual,
    },
    {
      device: '/dev/disk4',
      raw: '/dev/rdisk4',
      wholeDisk: true,
      size: 31914983424,
      blockSize: 512,
      // the built-in reader is internal; the card in it is removable
      internal: true,
      removable: true,
      bus: 'SD',
      mediaName: 'SDXC Reader',
      virtual: false,
    },
  );

  const usb = parseDiskutilInfo(fixture('diskutil-info-disk5.plist'));
  assert.equal(usb.bus, 'USB');
  assert.equal(usb.internal, false);
  assert.equal(usb.removable, true);
  assert.equal(usb.mediaName, 'Kingston DataTraveler 3.0');
  assert.equal(usb.size, 30943995904);
  assert.equal(usb.virtual, false);

  const container = parseDiskutilInfo(fixture('diskutil-info-disk3.plist'));
  assert.deepEqual(container.apfsPhysicalStores, ['disk0s2']);
  assert.equal(container.virtual, true);
  assert.equal(container.blockSize, 4096);
  assert.equal(container.removable, false);

  const image = parseDiskutilInfo(fixture('diskutil-info-disk6.plist'));
  assert.equal(image.diskImage, true);
  assert.equal(image.virtual, true, 'a disk image is never a card, whatever its removable flag says');
  assert.equal(image.removable, true);
  assert.equal(image.writable, false);

  const internal = parseDiskutilInfo(fixture('diskutil-info-disk0.plist'));
  assert.equal(internal.bus, 'APPLE FABRIC');
  assert.equal(internal.internal, true);
  assert.equal(internal.removable, false);
  assert.equal(internal.virtual, false);
});

test('diskutil list: whole disks, partitions, APFS containers with their stores and the mounted system snapshot', () => {
  const disks = parseDiskutilList(fixture('diskutil-list.plist'));
  assert.deepEqual(
    disks.map((d) => d.identifier),
    ['disk0', 'disk1', 'disk2', 'disk3', 'disk4', 'disk5', 'disk6'],
  );
  const byId = Object.fromEntries(disks.map((d) => [d.identifier, d]));
  assert.deepEqual(byId.disk3!.apfsPhysicalStores, ['disk0s2']);
  assert.deepEqual(byId.disk3!.partitions.find((p) => p.identifier === 'disk3s1')!.mountPoints, ['/']);
  assert.deepEqual(byId.disk4!.partitions, [
    { identifier: 'disk4s1', mountPoints: ['/Volumes/bootfs'], volumeName: 'bootfs' },
    { identifier: 'disk4s2', mountPoints: [], volumeName: null },
  ]);
  assert.deepEqual(byId.disk0!.apfsPhysicalStores, []);
});

test('serials: the card in the SD reader (its CID serial) and the USB stick, not the keyboard', () => {
  assert.deepEqual(
    [...cardReaderSerials(fixture('system_profiler-SPCardReaderDataType.json'))],
    [['disk4', '0x9a3c0f21']],
  );
  assert.deepEqual(
    [...usbSerials(fixture('ioreg-IOUSBHostDevice.plist'))],
    [['disk5', 'E0D55EA574F1E4B1A9A1234F']],
  );
  assert.deepEqual([...cardReaderSerials('{"SPCardReaderDataType":[{"_name":"spcardreader"}]}')], []);
});

test('darwinFacts: one diskutil list, one info per physical disk, the serial tools only for SD and USB', async () => {
  const mac = recordedMac();
  const facts = await darwinFacts(mac.run);
  assert.deepEqual(mac.calls, [
    'diskutil list -plist',
    'diskutil info -plist disk0',
    'diskutil info -plist disk4',
    'diskutil info -plist disk5',
    'diskutil info -plist disk6',
    'system_profiler -json SPCardReaderDataType',
    'ioreg -a -r -c IOUSBHostDevice -l',
  ]);
  assert.equal(facts.get('/dev/disk4')!.serial, '0x9a3c0f21');
  assert.equal(facts.get('/dev/disk5')!.serial, 'E0D55EA574F1E4B1A9A1234F');
  assert.equal(facts.get('/dev/disk0')!.serial, undefined);
  // the system volume's snapshot at / is in the container disk3, whose store is disk0s2: disk0 holds /
  assert.ok(facts.get('/dev/disk0')!.partitions.some((p) => p.mountpoints.includes('/')));
  assert.equal(facts.get('/dev/disk3')!.virtual, true);
  assert.equal(facts.get('/dev/disk3')!.blockSize, 4096);
  assert.equal(facts.get('/dev/disk6')!.virtual, true);

  // a serial tool that fails leaves the serial out; the listing still works
  const broken = recordedMac({
    'system_profiler -json SPCardReaderDataType': () => {
      throw new Error('system_profiler: timed out');
    },
    'ioreg -a -r -c IOUSBHostDevice -l': () => '<plist><array><dict><key>x</key>',
  });
  const partial = await darwinFacts(broken.run);
  assert.equal(partial.get('/dev/disk4')!.serial, undefined);
  assert.equal(partial.get('/dev/disk5')!.serial, undefined);
  assert.equal(partial.get('/dev/disk4')!.blockSize, 512);
});

test('the drive list on a Mac: drivelist records completed with the facts', async () => {
  const records = JSON.parse(fixture('drivelist.json')) as drivelist.Drive[];
  const facts = await darwinFacts(recordedMac().run);
  const drives = records.map((r) =>
    toDrive(r, facts.get(r.device), {
      rootDev: null,
      appDevs: [null],
      appReal: ['/Volumes/Atlas Imager 0.1.0-arm64/Atlas Imager.app/Contents/MacOS/Atlas Imager'],
      sourceDev: null,
      sourceReal: '/Volumes/KINGSTON/ods-atlas-golden-v8-1-X.img',
    }),
  );
  const by = (disk: string): Drive => drives.find((d) => d.device === `/dev/${disk}`)!;
  const card = by('disk4');
  assert.deepEqual(
    {
      raw: card.raw,
      serial: card.serial,
      blockSize: card.blockSize,
      size: card.size,
      bus: card.bus,
      removable: card.removable,
      system: card.system,
      virtual: card.virtual,
      holdsRoot: card.holdsRoot,
      holdsApp: card.holdsApp,
      containsSource: card.containsSource,
      mountpoints: card.mountpoints,
    },
    {
      raw: '/dev/rdisk4',
      serial: '0x9a3c0f21',
      blockSize: 512,
      size: 31914983424,
      bus: 'SD',
      removable: true,
      system: false,
      virtual: false,
      holdsRoot: false,
      holdsApp: false,
      containsSource: false,
      mountpoints: ['/Volumes/bootfs'],
    },
  );
  assert.equal(by('disk5').serial, 'E0D55EA574F1E4B1A9A1234F');
  assert.equal(by('disk5').containsSource, true);
  assert.equal(by('disk5').description, 'Kingston DataTraveler 3.0');
  // the app's own .dmg: drivelist calls it removable and not virtual; it is neither a card nor removable here
  assert.equal(by('disk6').virtual, true);
  assert.equal(by('disk6').removable, false);
  assert.equal(by('disk6').holdsApp, true);
  // the internal SSD holds / through its APFS container; the container itself is virtual
  assert.equal(by('disk0').holdsRoot, true);
  assert.equal(by('disk0').system, true);
  assert.ok(by('disk0').mountpoints.includes('/System/Volumes/Data'));
  assert.equal(by('disk3').virtual, true);
  assert.equal(by('disk3').removable, false);
});

test('mounts of a disk: its own volumes, and those of the APFS container it holds', async () => {
  const { run } = recordedMac();
  assert.deepEqual(await darwinMounts('/dev/rdisk4', run), [
    { device: '/dev/disk4s1', mountpoint: '/Volumes/bootfs' },
  ]);
  assert.deepEqual(await darwinMounts('disk5', run), [
    { device: '/dev/disk5s1', mountpoint: '/Volumes/KINGSTON' },
  ]);
  const internal = await darwinMounts('/dev/disk0', run);
  assert.ok(internal.some((m) => m.device === '/dev/disk3s1' && m.mountpoint === '/'));
  assert.ok(internal.some((m) => m.mountpoint === '/System/Volumes/Data'));
  assert.ok(
    internal.some((m) => m.mountpoint === '/System/Volumes/iSCPreboot'),
    'the ISC container on disk0s1',
  );
  assert.deepEqual(await darwinMounts('/Users/me/card.img', run), []);
});

test('darwinFacts with a serial cache: the serial tools run again only when the disks change or the entry ages', async () => {
  let now = 0;
  const cache = new SerialCache(10_000, () => now);
  const mac = recordedMac();
  const serialCalls = (): number => mac.calls.filter((c) => /^(system_profiler|ioreg) /.test(c)).length;
  assert.equal((await darwinFacts(mac.run, cache)).get('/dev/disk4')!.serial, '0x9a3c0f21');
  assert.equal(serialCalls(), 2);
  now = 5_000;
  assert.equal(
    (await darwinFacts(mac.run, cache)).get('/dev/disk4')!.serial,
    '0x9a3c0f21',
    'served from the cache',
  );
  assert.equal(serialCalls(), 2, 'the same disks: no system_profiler, no ioreg');
  now = 11_000;
  await darwinFacts(mac.run, cache);
  assert.equal(serialCalls(), 4, 'an entry older than its time is read again');
  // the card taken out: another layout, so the serials are read again at once
  const gone = recordedMac({
    'diskutil list -plist': () => fixture('diskutil-list.plist').replace(/disk4/g, 'disk9'),
    'diskutil info -plist disk9': () => fixture('diskutil-info-disk4.plist').replace(/disk4/g, 'disk9'),
  });
  await darwinFacts(gone.run, cache);
  assert.equal(gone.calls.filter((c) => /^(system_profiler|ioreg) /.test(c)).length, 2);
});
