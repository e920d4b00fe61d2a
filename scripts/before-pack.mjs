// electron-builder's beforePack (electron-builder.yml): the engine's addon (native/atlas-io, see
// scripts/build-native.mjs) built for the architecture being packed, so each macOS dmg (arm64, x64) carries its
// own (electron-builder's npmRebuild covers node_modules only). It leaves out/native holding the last arch
// packed; `npm run build` puts the machine's own back.
import { join } from 'node:path';
import { buildNative } from './build-native.mjs';

// electron-builder's Arch enum
const ARCH = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

export async function beforePack(context) {
  const arch = ARCH[context.arch];
  if (context.electronPlatformName === process.platform && arch === process.arch) return; // the build made it
  if (context.electronPlatformName !== process.platform || arch === 'universal' || !arch) {
    throw new Error(`The addon is built on the platform packed, one architecture at a time (not ${arch}).`);
  }
  buildNative(join(context.packager.projectDir, 'out'), arch);
}

export default beforePack;
