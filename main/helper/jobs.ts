/** The device jobs the helper runs. Add a line per job; each wraps an engine job with its safety checks. */
import { AtlasError } from '../engine/errors';
import { flashJob, type FlashOptions } from '../engine/jobs/flash';
import { registerHelperJob } from './registry';

registerHelperJob('flash', (options, control) => flashJob(checkFlashOptions(options), control));

/** The flash options as the helper accepts them: plain data, re-validation forced on, no test hooks. */
export function checkFlashOptions(raw: unknown): FlashOptions {
  const o = raw as Partial<FlashOptions> | null;
  const bad = (what: string): never => {
    throw new AtlasError('INVALID_ARGUMENT', `The flash request is malformed: ${what}.`);
  };
  if (!o || typeof o !== 'object') bad('no options');
  if (typeof o!.source !== 'string' || o!.source === '') bad('no source');
  if (!Array.isArray(o!.targets) || o!.targets.length === 0) bad('no targets');
  const targets = o!.targets!.map((t) => {
    if (!t || typeof t.device !== 'string') bad('a target has no device');
    const c = t.confirmed;
    if (!c || typeof c.size !== 'number' || !(c.size > 0)) bad(`${t.device} has no confirmed size`);
    if (c!.serial !== undefined && typeof c!.serial !== 'string') bad(`${t.device} has a malformed serial`);
    return {
      device: t.device,
      confirmed: { size: c!.size, ...(c!.serial !== undefined ? { serial: c!.serial } : {}) },
    };
  });
  return {
    source: o!.source!,
    targets,
    verify: o!.verify !== false,
    eject: o!.eject !== false,
    useTools: o!.useTools !== false,
    revalidate: true,
  };
}
