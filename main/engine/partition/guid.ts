/**
 * GPT GUIDs on disk are "mixed-endian": the first three fields little-endian, the last two as bytes.
 * sfdisk prints and accepts them as uppercase text.
 */
import { AtlasError } from '../errors';

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(text: string): boolean {
  return GUID_RE.test(text);
}

export function guidFromBytes(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Buffer.from(b.subarray(from, to));
    if (reverse) part.reverse();
    return part.toString('hex');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)]
    .join('-')
    .toUpperCase();
}

export function guidToBytes(text: string): Buffer {
  if (!isGuid(text)) throw new AtlasError('INVALID_ARGUMENT', `"${text}" is not a GUID.`);
  const h = text.replace(/-/g, '');
  const le = (s: string): Buffer => Buffer.from(s, 'hex').reverse();
  return Buffer.concat([
    le(h.slice(0, 8)),
    le(h.slice(8, 12)),
    le(h.slice(12, 16)),
    Buffer.from(h.slice(16), 'hex'),
  ]);
}

export function isZeroGuid(bytes: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (bytes[i] !== 0) return false;
  return true;
}
