/** The partclone image format: CRC, header, bitmap, streaming writer (v2) and reader (v1, v2). */
export { PC_CRC_SEED, pcCrc32 } from './crc';
export {
  BitmapMode,
  ChecksumMode,
  PARTCLONE_VERSION_STRING,
  V1_HEADER_SIZE,
  V2_HEADER_SIZE,
  bitmapByteLength,
  checksumModeName,
  decodeHeader,
  defaultBlocksPerChecksum,
  detectFormatVersion,
  encodeV2Header,
  type PartcloneHeader,
  type V2HeaderFields,
} from './header';
export {
  createPartcloneImageStream,
  partcloneImageSize,
  type PartcloneWriterOptions,
  type ReadBlocks,
} from './writer';
export {
  openPartcloneStream,
  readPartcloneInfo,
  verifyPartcloneStream,
  type PartcloneInfo,
  type PartcloneReaderOptions,
  type PartcloneRun,
  type PartcloneStreamReader,
  type PartcloneVerifyResult,
} from './reader';
