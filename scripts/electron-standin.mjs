// Makes a stand-in for the Electron distribution, so electron-builder can pack the app where Electron's binary
// cannot be downloaded (CI, offline):
//   node scripts/electron-standin.mjs DIR
//   npx electron-builder --linux dir -c.electronDist=DIR -c.npmRebuild=false -c.electronVersion=45.5.0
// DIR gets one executable, `electron` (electron-builder renames it to the app's name). It carries Electron's fuse
// wire, so the fuses step runs on it as on the real binary, and it honours the one fuse a packed app relies on
// without a window: with ELECTRON_RUN_AS_NODE set and the runAsNode fuse on, it runs its arguments with Node, as
// Electron does for the elevated helper. Anything else (opening the app's window) fails: there is no Electron here.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// @electron/fuses finds the wire after this sentinel: version byte 1, a length byte, then one byte per fuse.
export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron 45 has 9 fuses (@electron/fuses knows 8 by name); each starts enabled ('1') as in Electron's build
const FUSE_COUNT = 9;

/** Writes DIR/electron and returns its path. `node` is the Node that runs as Electron-as-Node. */
export function makeElectronStandin(dir, node = process.execPath) {
  mkdirSync(dir, { recursive: true });
  const wire = `${FUSE_SENTINEL}\x01${String.fromCharCode(FUSE_COUNT)}${'1'.repeat(FUSE_COUNT)}`;
  // the sed pattern splits the sentinel in two so that the file holds it exactly once (on the wire's line)
  const half = FUSE_SENTINEL.length / 2;
  const script = `#!/bin/sh
# Electron stand-in made by scripts/electron-standin.mjs (no Electron binary here).
# fuse wire: ${wire}
run_as_node=$(LC_ALL=C sed -n "s/.*${FUSE_SENTINEL.slice(0, half)}""${FUSE_SENTINEL.slice(half)}..\\(.\\).*/\\1/p" "$0")
if [ -n "$ELECTRON_RUN_AS_NODE" ] && [ "$ELECTRON_RUN_AS_NODE" != 0 ]; then
  if [ "$run_as_node" = 1 ]; then exec ${shellQuote(node)} "$@"; fi
  echo "$0: the runAsNode fuse is off: this Electron cannot run scripts as Node" >&2
  exit 1
fi
echo "$0: an Electron stand-in: it runs scripts only as Node (ELECTRON_RUN_AS_NODE=1), never the app's window" >&2
exit 1
`;
  const path = join(dir, 'electron');
  writeFileSync(path, script, { encoding: 'latin1' });
  chmodSync(path, 0o755);
  return path;
}

function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/electron-standin.mjs DIR');
    process.exit(2);
  }
  console.log(makeElectronStandin(resolve(dir)));
}
