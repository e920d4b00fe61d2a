/**
 * vaultVerifyJob: re-hashes every artifact of a folder (read from its disk) against its manifest and checksum
 * files, reporting each one ok, damaged or without checksum.
 */
import { resolve } from 'node:path';
import { throwIfCancelled, toAtlasError } from '../../errors';
import { sha256FromDisk } from '../../io/hash';
import { ProgressMeter, type JobControl } from '../../progress';
import { listArtifacts, type Artifact } from '../../library/catalog';
import { recordedHashes, type ChecksumReference, type RecordedHashes } from './plan';
import { checkVault, type VolumeOptions } from './volume';

export type VaultFileStatus = 'ok' | 'damaged' | 'missing' | 'unchecked';

export interface VaultVerifyArtifact {
  name: string;
  kind: Artifact['kind'];
  phase: 0 | 1;
  /** ok: every checksum matches; damaged: one or more files differ or are missing; no-checksum: nothing to check against */
  status: 'ok' | 'damaged' | 'no-checksum';
  files: Array<{ name: string; status: VaultFileStatus; reference?: ChecksumReference; detail?: string }>;
  /** one line for a person */
  message: string;
}

export interface VaultVerifyResult {
  folder: string;
  ok: boolean;
  artifacts: VaultVerifyArtifact[];
  damaged: number;
  unchecked: number;
  partials: string[];
}

export async function vaultVerifyJob(
  options: { folder: string } & VolumeOptions,
  control: JobControl = {},
): Promise<VaultVerifyResult> {
  const folder = resolve(options.folder);
  await checkVault(folder, options);
  const catalog = await listArtifacts(folder);
  const plans: Array<{ artifact: Artifact; refs: RecordedHashes; error?: string }> = [];
  for (const artifact of [...catalog.artifacts].sort((a, b) => a.name.localeCompare(b.name))) {
    try {
      plans.push({ artifact, refs: await recordedHashes(artifact) });
    } catch (error) {
      plans.push({ artifact, refs: new Map(), error: toAtlasError(error).message });
    }
  }
  const total = plans.reduce(
    (sum, p) => sum + p.artifact.files.filter((f) => p.refs.has(f.name)).reduce((s, f) => s + f.size, 0),
    0,
  );
  const meter = new ProgressMeter('verifying', total, control.onProgress);
  const artifacts: VaultVerifyArtifact[] = [];
  for (const { artifact, refs, error } of plans) {
    throwIfCancelled(control.signal);
    const files = await checkFiles(artifact, refs, meter, control.signal);
    artifacts.push({
      name: artifact.name,
      kind: artifact.kind,
      phase: artifact.phase,
      ...verdict(files, error),
    });
  }
  meter.finish();
  const damaged = artifacts.filter((a) => a.status === 'damaged').length;
  return {
    folder,
    ok: damaged === 0,
    artifacts,
    damaged,
    unchecked: artifacts.filter((a) => a.status === 'no-checksum').length,
    partials: catalog.partials,
  };
}

/** Each recorded hash checked against the file read from the disk; the files nothing records are unchecked. */
async function checkFiles(
  artifact: Artifact,
  refs: RecordedHashes,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
): Promise<VaultVerifyArtifact['files']> {
  const files: VaultVerifyArtifact['files'] = [];
  const present = new Map(artifact.files.map((f) => [f.name, f]));
  for (const [name, ref] of [...refs].sort(([a], [b]) => a.localeCompare(b))) {
    const file = present.get(name);
    if (!file) {
      files.push({ name, status: 'missing', reference: ref.from, detail: `${name} is listed but missing` });
      continue;
    }
    meter.setDetail(artifact.kind === 'clone-folder' ? `${artifact.name}/${name}` : name);
    const { sha256 } = await sha256FromDisk(file.path, { signal, onBytes: (n) => meter.add(n) });
    files.push(
      sha256 === ref.sha256
        ? { name, status: 'ok', reference: ref.from }
        : {
            name,
            status: 'damaged',
            reference: ref.from,
            detail: `sha256 ${sha256}, expected ${ref.sha256}`,
          },
    );
  }
  for (const file of artifact.files) {
    if (refs.has(file.name) || file.name === artifact.checksumFile || file.name === artifact.manifestFile)
      continue;
    files.push({ name: file.name, status: 'unchecked' });
  }
  return files;
}

function verdict(
  files: VaultVerifyArtifact['files'],
  error: string | undefined,
): Pick<VaultVerifyArtifact, 'status' | 'files' | 'message'> {
  const bad = files.filter((f) => f.status === 'damaged' || f.status === 'missing');
  const checked = files.filter((f) => f.status === 'ok').length;
  if (error) {
    return { status: 'damaged', files, message: `its manifest or checksum file cannot be read: ${error}` };
  }
  if (bad.length > 0) {
    const list = bad.map(
      (f) => `${f.name} ${f.status === 'missing' ? 'is missing' : 'does not match its checksum'}`,
    );
    return { status: 'damaged', files, message: `DAMAGED: ${list.join('; ')}` };
  }
  if (checked === 0) {
    return {
      status: 'no-checksum',
      files,
      message:
        'no manifest or checksum file to check against (sync it again from a build folder that has it)',
    };
  }
  const unchecked = files.filter((f) => f.status === 'unchecked').map((f) => f.name);
  const one = checked === 1;
  return {
    status: 'ok',
    files,
    message: `${checked} file${one ? '' : 's'} match${one ? 'es' : ''} ${one ? 'its' : 'their'} sha256${unchecked.length ? ` (no checksum for ${unchecked.join(', ')})` : ''}`,
  };
}
