/**
 * The aligning handle over a device that takes only whole aligned sectors, as O_DIRECT and macOS raw nodes do:
 * reads and writes at any offset and length land exactly where asked, and what is around them is kept.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { AlignedHandle } from '../../main/engine/io/aligned-handle';
import { readFullyAt, writeFullyAt } from '../../main/engine/io/block-file';
import type { DeviceHandle } from '../../main/engine/io/fd-handle';

/** A device of `disk` that refuses (EINVAL) any I/O not in whole `unit`s at aligned offsets. */
function strictDevice(disk: Buffer, unit: number): DeviceHandle & { calls: number } {
  const check = (buffer: Uint8Array, offset: number, length: number, position: number): void => {
    if (position % unit || length % unit || (buffer.byteOffset + offset) % unit) {
      throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
    }
  };
  return {
    fd: -1,
    calls: 0,
    async read(buffer, offset, length, position) {
      this.calls++;
      check(buffer, offset, length, position);
      const n = Math.max(0, Math.min(length, disk.length - position));
      disk.copy(buffer, offset, position, position + n);
      return { bytesRead: n };
    },
    async write(buffer, offset, length, position) {
      this.calls++;
      check(buffer, offset, length, position);
      disk.set(buffer.subarray(offset, offset + length), position);
      return { bytesWritten: length };
    },
    sync: async () => undefined,
    datasync: async () => undefined,
    close: async () => undefined,
  };
}

test('unaligned reads and writes through whole sectors, the rest of each sector kept', async () => {
  for (const unit of [512, 4096]) {
    const size = 3 * 1024 * 1024;
    const disk = Buffer.alloc(size);
    for (let i = 0; i < size; i++) disk[i] = (i * 7) & 0xff;
    const model = Buffer.from(disk);
    const handle = new AlignedHandle(strictDevice(disk, unit), unit);
    let seed = 1;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 60; k++) {
      const position = random(size - 1);
      // small ones, and some longer than the bounce buffer
      const length = 1 + random(Math.min(size - position, k % 5 === 0 ? 2.5 * 1024 * 1024 : 9000));
      if (k % 2 === 0) {
        const data = Buffer.alloc(length, k + 1);
        await writeFullyAt(handle, data, position, length, () => new Error('stall'));
        data.copy(model, position);
      } else {
        const got = Buffer.alloc(length);
        assert.equal(await readFullyAt(handle, got, position, length), length);
        assert.ok(got.equals(model.subarray(position, position + length)), `read at ${position}+${length}`);
      }
    }
    assert.ok(disk.equals(model), `the device holds what was written (unit ${unit})`);
  }
});

test('a read past the end of the device returns what there is', async () => {
  const disk = Buffer.alloc(8192, 9);
  const handle = new AlignedHandle(strictDevice(disk, 512), 512);
  const got = Buffer.alloc(1000);
  assert.equal(await readFullyAt(handle, got, 7700, 1000), 492);
  assert.ok(got.subarray(0, 492).every((b) => b === 9));
});
