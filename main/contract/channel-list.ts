/**
 * The contract's channels as values, for the code that must check a name at run time (the preload's allow-list)
 * and the tests that the served map matches. Records, not arrays: a channel added to channels.ts and missing
 * here is a type error. Kept apart from index.ts, which is types only.
 */
import type { EventChannel, RequestChannel } from './channels';

export const REQUEST_CHANNELS: Readonly<Record<RequestChannel, true>> = {
  'app:info': true,
  'settings:get': true,
  'settings:set': true,
  'drives:list': true,
  'dialog:open-file': true,
  'dialog:open-folder': true,
  'image:inspect': true,
  'library:list': true,
  'remote:list': true,
  'clone:inspect': true,
  'flash:start': true,
  'insert:prepare-base': true,
  'insert:check': true,
  'insert:start': true,
  'clone:start': true,
  'restore:start': true,
  'deploy:list': true,
  'card:check': true,
  'verify:start': true,
  'vault:sync': true,
  'vault:verify': true,
  'job:cancel': true,
  'log:list': true,
  'shell:show-item': true,
};

export const EVENT_CHANNELS: Readonly<Record<EventChannel, true>> = {
  'job:progress': true,
  'job:finished': true,
  'drives:changed': true,
};
