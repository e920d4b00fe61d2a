/**
 * A device opened with O_DIRECT (or a macOS raw node) takes whole, aligned sectors from aligned memory only. Code
 * that does small I/O at any offset (partition tables, libext2fs on a restored root) goes through this handle:
 * each call is turned into whole aligned units through a page-aligned bounce buffer, a partial sector read from
 * the card first and written back whole (read-modify-write). Bulk data should not come this way: it costs a copy.
 */
import { alignedBuffer, directUnit, type DirectDevice } from './direct';
import { readFullyAt, writeFullyAt } from './block-file';
import type { DeviceHandle } from './fd-handle';

/** The bounce buffer: what one call moves at most (a caller loops, as readFullyAt and writeFullyAt do). */
const BOUNCE = 1024 * 1024;

/** The handle to do unaligned I/O on `device` with: its own when it takes any I/O, else an aligning one. */
export function alignedHandle(device: DirectDevice): DeviceHandle {
  return device.direct ? new AlignedHandle(device.handle, directUnit(device)) : device.handle;
}

export class AlignedHandle implements DeviceHandle {
  private bounce: Buffer | null = null;
  /** one call at a time: they share the bounce buffer */
  private queue: Promise<unknown> = Promise.resolve();

  /** `unit`: the I/O granularity of `inner` (its logical sector, a page for a file), a power of two */
  constructor(
    private readonly inner: DeviceHandle,
    private readonly unit: number,
  ) {}

  get fd(): number {
    return this.inner.fd;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.serial(async () => {
      const { from, piece, span } = this.plan(position, length);
      const bounce = this.buffer();
      const got = await readFullyAt(this.inner, bounce, from, span);
      const bytesRead = Math.max(0, Math.min(piece, got - (position - from)));
      bounce.copy(buffer, offset, position - from, position - from + bytesRead);
      return { bytesRead };
    });
  }

  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }> {
    return this.serial(async () => {
      const { from, piece, span } = this.plan(position, length);
      const bounce = this.buffer();
      // the sectors this write covers only in part keep the rest of what the card holds
      if (position !== from || piece !== span) {
        const got = await readFullyAt(this.inner, bounce, from, span);
        bounce.fill(0, got, span);
      }
      bounce.set(buffer.subarray(offset, offset + piece), position - from);
      await writeFullyAt(this.inner, bounce, from, span, (at) => new Error(`short write at byte ${at}`));
      return { bytesWritten: piece };
    });
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  datasync(): Promise<void> {
    return this.inner.datasync();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The aligned span [from, from + span) around the first `piece` bytes at `position` that fit the bounce buffer. */
  private plan(position: number, length: number): { from: number; piece: number; span: number } {
    const from = position - (position % this.unit);
    const piece = Math.min(length, BOUNCE - (position - from));
    const end = position + piece;
    const span = Math.ceil(end / this.unit) * this.unit - from;
    return { from, piece, span };
  }

  private buffer(): Buffer {
    this.bounce ??= alignedBuffer(BOUNCE + this.unit, []);
    return this.bounce;
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
