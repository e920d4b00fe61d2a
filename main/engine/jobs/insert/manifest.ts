/**
 * Insert's step 5: the sidecar manifest, ods-atlas-golden-vN-P-TAG.manifest.json — the base (name, hashes,
 * Armbian facts), the root partition, and every injected file with its destination, mode, owner and sha256.
 *
 * The secrets are in it by a keyed digest only: HMAC-SHA256 under a random key kept in the build folder
 * (SECRETS_KEY_FILE, 0600, made once). It tells whether two golden images of that folder carry the same
 * secrets, and whether a given atlas_secrets.conf is the one inside, while the manifest itself — copied to the
 * vault, shown in the app — gives nothing to guess a short secret against (an unsalted sha256 would). Check a
 * file by hand with:
 *   openssl dgst -sha256 -mac HMAC -macopt hexkey:$(cat .atlas-secrets-key) atlas_secrets.conf
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { AtlasError, toAtlasError } from '../../errors';
import type { SourceFormat } from '../../compress/source';
import { VERSION } from '../../version';
import type { ArmbianInspection } from './armbian';
import { octal } from './inputs';
import type { InjectionPlan, InsertFileRole } from './plan';

export interface ManifestFile {
  role: InsertFileRole;
  destination: string;
  type: 'file' | 'symlink';
  /** octal text, e.g. '0755' */
  mode: string;
  uid: number;
  gid: number;
  /** files other than the secrets */
  sha256?: string;
  /** the secrets only (their digest; not even their size or file name): HMAC-SHA256 under `hmacKeyFile` */
  hmacSha256?: string;
  /** the key's file, in the folder the golden image was built in (never the key itself) */
  hmacKeyFile?: string;
  size?: number;
  /** the file it was read from (not for the secrets, nor for generated files) */
  source?: string;
  /** symlinks only */
  target?: string;
}

export interface GoldenManifest {
  kind: 'ods-atlas-golden';
  phase: 0;
  name: string;
  image: string;
  version: number;
  patch: number;
  tag: string;
  base: {
    name: string;
    /** sha256 of the base file as given (the .img.xz when compressed): compare with Armbian's .sha */
    sha256: string;
    format: SourceFormat;
    /** sha256 of the uncompressed image, when the base was compressed */
    imageSha256?: string;
    size: number;
    armbian: {
      version: string;
      board: string;
      boardFamily: string;
      release: string | null;
      branch: string | null;
      kernel: string | null;
      variant: string | null;
    };
  };
  rootPartition: { number: number; offset: number; size: number; uuid: string; label: string };
  files: ManifestFile[];
  created: string;
  tool: { name: 'atlas-imager'; version: string };
}

/** The build folder's key for the secrets' digest: 32 random bytes as hex text, its owner's alone. */
export const SECRETS_KEY_FILE = '.atlas-secrets-key';
const KEY_BYTES = 32;

/**
 * The build folder's secrets key, made on first use. Created exclusively, so two inserts starting together agree
 * on one key (the second reads the first's, waiting a moment for it to be written).
 */
export async function secretsKey(outDir: string): Promise<Buffer> {
  const path = join(outDir, SECRETS_KEY_FILE);
  try {
    const handle = await fsp.open(path, 'wx', 0o600);
    try {
      const key = randomBytes(KEY_BYTES);
      await handle.writeFile(`${key.toString('hex')}\n`);
      await handle.sync();
      return key;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw toAtlasError(error, `Cannot create the secrets key ${path}`);
  }
  for (let attempt = 0; ; attempt++) {
    const key = await readKey(path);
    if (key) return key;
    if (attempt === 20) {
      throw new AtlasError(
        'IO_ERROR',
        `The secrets key ${path} is damaged (not ${KEY_BYTES * 2} hex digits). Move it away and try again: a new key is made, and the manifests made with the old one can then only be checked with it.`,
      );
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}

/** The key in `path`, or null while it is not (yet) a whole one. Never follows a link put in its place. */
async function readKey(path: string): Promise<Buffer | null> {
  const handle = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: unknown) => {
    throw toAtlasError(error, `Cannot read the secrets key ${path}`);
  });
  try {
    const text = (await handle.readFile('utf8')).trim();
    return /^[0-9a-f]+$/.test(text) && text.length === KEY_BYTES * 2 ? Buffer.from(text, 'hex') : null;
  } finally {
    await handle.close();
  }
}

export function secretsDigest(key: Buffer, secrets: Buffer): string {
  return createHmac('sha256', key).update(secrets).digest('hex');
}

export interface ManifestFacts {
  name: string;
  image: string;
  version: number;
  patch: number;
  tag: string;
  base: ArmbianInspection;
  baseName: string;
  baseSha256: string;
  format: SourceFormat;
  imageSha256?: string;
  imageSize: number;
  plan: InjectionPlan;
  secretsKey: Buffer;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function buildManifest(f: ManifestFacts): GoldenManifest {
  const { base, plan } = f;
  return {
    kind: 'ods-atlas-golden',
    phase: 0,
    name: f.name,
    image: basename(f.image),
    version: f.version,
    patch: f.patch,
    tag: f.tag,
    base: {
      name: f.baseName,
      sha256: f.baseSha256,
      format: f.format,
      ...(f.imageSha256 ? { imageSha256: f.imageSha256 } : {}),
      size: f.imageSize,
      armbian: {
        version: base.version,
        board: base.board,
        boardFamily: base.boardFamily,
        release: base.release,
        branch: base.branch,
        kernel: base.kernel,
        variant: base.variant,
      },
    },
    rootPartition: {
      number: base.root.number,
      offset: base.root.offset,
      size: base.root.size,
      uuid: base.root.uuid,
      label: base.root.label,
    },
    files: [
      ...plan.files.map((file): ManifestFile => ({
        role: file.role,
        destination: file.destination,
        type: 'file',
        mode: octal(file.mode),
        uid: 0,
        gid: 0,
        ...(file.role === 'secrets'
          ? { hmacSha256: secretsDigest(f.secretsKey, file.data), hmacKeyFile: SECRETS_KEY_FILE }
          : {
              sha256: sha256(file.data),
              size: file.data.length,
              ...(file.source ? { source: file.source } : {}),
            }),
      })),
      ...plan.links.map((l): ManifestFile => ({
        role: 'enable',
        destination: l.destination,
        type: 'symlink',
        mode: '0777',
        uid: 0,
        gid: 0,
        target: l.target,
      })),
    ],
    created: plan.created,
    tool: { name: 'atlas-imager', version: VERSION },
  };
}
