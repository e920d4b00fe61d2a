/**
 * Payload checks for everything the renderer sends. The renderer is a web page: its payloads are checked for
 * shape here, and the device rules are checked again by the helper right before it opens a device.
 */
import { isAbsolute } from 'node:path';
import { AtlasError } from '../engine/errors';
import type { DriveSnapshot } from '../contract';

export type Obj = Record<string, unknown>;

function bad(what: string, rule: string): AtlasError {
  return new AtlasError('INVALID_ARGUMENT', `${what} ${rule}.`);
}

export function object(value: unknown, what = 'The request'): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(what, 'must be an object');
  return value as Obj;
}

/** Rejects keys the channel does not know, so a typo or an injected option never passes silently. */
export function onlyKeys(value: Obj, keys: readonly string[], what = 'The request'): Obj {
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (extra.length > 0)
    throw bad(what, `has unknown field${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  return value;
}

export function string(value: unknown, what: string, max = 4096): string {
  if (typeof value !== 'string' || value.length === 0) throw bad(what, 'is missing');
  if (value.length > max || value.includes('\0')) throw bad(what, 'is not a usable value');
  return value;
}

export function path(value: unknown, what: string): string {
  const text = string(value, what);
  if (!isAbsolute(text)) throw bad(what, `must be an absolute path (got "${text}")`);
  return text;
}

export function boolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw bad(what, 'must be true or false');
  return value;
}

export function optionalBoolean(value: unknown, what: string): boolean | undefined {
  return value === undefined ? undefined : boolean(value, what);
}

export function integer(value: unknown, what: string, min = 0, max = 1_000_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(what, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function snapshot(value: unknown, what = 'The drive'): DriveSnapshot {
  const o = onlyKeys(object(value, what), ['device', 'size', 'serial'], what);
  const device = string(o.device, `${what}'s device`, 256);
  if (!device.startsWith('/')) throw bad(`${what}'s device`, 'must be a device path');
  const size = o.size === null ? null : integer(o.size, `${what}'s size`, 0, Number.MAX_SAFE_INTEGER);
  const serial = o.serial === null ? null : string(o.serial, `${what}'s serial`, 256);
  return { device, size, serial };
}
