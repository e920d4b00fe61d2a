/**
 * The engine's records → the contract's DTOs. The engine's results carry more than the UI needs (tables,
 * timings, whole manifests); the contract keeps what the pages show, and never a secret.
 */
import type { Drive as EngineDrive } from '../engine/drives/list';
import type { FlashResult as EngineFlashResult } from '../engine/jobs/flash';
import type { InsertResult as EngineInsertResult } from '../engine/jobs/insert';
import type { VerifyResult as EngineVerifyResult } from '../engine/jobs/verify';
import type { CloneResult as EngineCloneResult } from '../engine/jobs/clone';
import type { RestoreResult as EngineRestoreResult } from '../engine/jobs/restore';
import type { CheckCardResult as EngineCheckCardResult } from '../engine/jobs/check-card';
import type { Artifact } from '../engine/library/catalog';
import type {
  VaultSyncResult as EngineVaultSyncResult,
  VaultVerifyResult as EngineVaultVerifyResult,
} from '../engine/jobs/vault';
import type {
  CheckCardResult,
  CloneResult,
  Drive,
  LibraryEntry,
  LibraryLocation,
  FlashResult,
  InsertResult,
  RestoreResult,
  VerifyResult,
  VaultSyncResult,
  VaultVerifyResult,
} from '../contract';

export function toDrive(d: EngineDrive): Drive {
  return {
    device: d.device,
    description: d.description,
    size: d.size,
    bus: d.bus && d.bus !== 'UNKNOWN' ? d.bus : null,
    serial: d.serial ?? null,
    mountpoints: d.mountpoints,
    removable: d.removable && d.wholeDisk,
    // the disk holding / or the running app is as untouchable as the system disk
    system: d.system || d.holdsRoot || d.holdsApp,
    virtual: d.virtual,
    readOnly: d.readOnly,
    large: d.large,
  };
}

export function toFlashResult(r: EngineFlashResult): FlashResult {
  return {
    image: r.source,
    bytesWritten: r.usedBlocksOnly?.bytesWritten ?? r.imageSize,
    verified: r.verified,
    writeSeconds: r.writeSeconds,
    seconds: r.writeSeconds + r.verifySeconds,
    // the app adds it from the checksum file (job-log.ts): the job never reads more than the image
    sha256: null,
    ...(r.usedBlocksOnly ? { usedBlocksOnly: r.usedBlocksOnly } : {}),
    targets: r.targets.map((t) => ({
      device: t.device,
      ok: t.ok,
      verified: t.verified,
      ejected: t.ejected,
      ...(t.error ? { error: { code: t.error.code, message: t.error.message } } : {}),
    })),
  };
}

export function toInsertResult(r: EngineInsertResult): InsertResult {
  const m = r.manifest;
  return {
    output: r.output,
    manifestPath: r.manifestPath,
    baseImage: m.base.name,
    baseSha256: m.base.sha256,
    version: m.version,
    patch: m.patch,
    tag: m.tag,
    files: m.files.map((f) => ({
      destination: f.type === 'symlink' ? `${f.destination} → ${f.target ?? ''}` : f.destination,
      mode: f.mode,
      sha256: f.sha256 ?? '',
      ...(f.hmacSha256 ? { hmacSha256: f.hmacSha256 } : {}),
    })),
  };
}

export function toVerifyResult(r: EngineVerifyResult): VerifyResult {
  // verifyCloneFolder throws at the first fault, so a returned result is a clean one
  return { path: r.folder, checked: r.images.length + (r.manifest ? r.manifest.files.length : 0) };
}

export function toCloneResult(r: EngineCloneResult): CloneResult {
  const m = r.manifest;
  return {
    folder: r.folder,
    tag: m.tag,
    created: m.created,
    totalBytes: m.files.reduce((sum, f) => sum + f.size, 0),
    partitions: m.partitions.map((p) => ({
      file: p.file,
      role: p.role,
      filesystem: p.filesystem,
      usedBytes: p.usedBlocks * p.blockSize,
    })),
    ...(m.lineage?.parent ? { parent: m.lineage.parent.image } : {}),
    ...(m.lineage?.allowedUnbooted ? { unbooted: true } : {}),
  };
}

export function toRestoreResult(r: EngineRestoreResult): RestoreResult {
  return {
    folder: r.folder,
    intent: r.intent,
    cloneTag: r.cloneTag,
    manifestSha256: r.manifestSha256,
    ok: r.ok,
    writeSeconds: r.writeSeconds,
    seconds: r.writeSeconds + r.verifySeconds,
    targets: r.targets.map((t) => ({
      device: t.device,
      ok: t.ok,
      verified: t.verified,
      grown: t.grow === 'resized',
      ...(t.growMessage ? { growNote: t.growMessage } : {}),
      hostname: t.hostname,
      identityChanges: t.identityChanges,
      bytesWritten: t.bytesWritten,
      ejected: t.ejected,
      ...(t.error ? { error: { code: t.error.code, message: t.error.message } } : {}),
    })),
  };
}

export function toCheckCardResult(r: EngineCheckCardResult): CheckCardResult {
  return {
    device: r.device,
    claimedBytes: r.claimedBytes,
    verdict: r.verdict,
    realBytesAtMost: r.realBytesAtMost,
    realBytesAtLeast: r.realBytesAtLeast,
    wrapsAt: r.wrapsAt,
    probes: r.probes,
    restored: r.restored,
    seconds: r.seconds,
  };
}

export function toLibraryEntry(a: Artifact & { location: LibraryLocation }): LibraryEntry {
  return {
    kind: a.kind,
    phase: a.phase,
    name: a.name,
    path: a.path,
    location: a.location,
    tag: a.tag,
    created: a.created,
    size: a.size,
    hasManifest: a.hasManifest,
    ...(a.parent ? { parent: a.parent } : {}),
    ...(a.unbooted ? { unbooted: true } : {}),
    ...(a.clones ? { clones: a.clones } : {}),
  };
}

export function toVaultSyncResult(r: EngineVaultSyncResult): VaultSyncResult {
  return {
    from: r.from,
    to: r.to,
    dryRun: r.dryRun,
    items: r.items.map((i) => ({
      name: i.name,
      kind: i.kind,
      phase: i.phase,
      action: i.action,
      bytes: i.bytes,
      files: i.files.length,
    })),
    copied: r.copied,
    identical: r.identical,
    bytes: r.bytes,
    freeBytes: r.freeBytes,
  };
}

export function toVaultVerifyResult(r: EngineVaultVerifyResult): VaultVerifyResult {
  return {
    folder: r.folder,
    ok: r.ok,
    artifacts: r.artifacts.map((a) => ({
      name: a.name,
      kind: a.kind,
      phase: a.phase,
      status: a.status,
      message: a.message,
    })),
    damaged: r.damaged,
    unchecked: r.unchecked,
  };
}
