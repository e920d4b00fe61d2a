/** Partition tables: read MBR/GPT, write and parse `sfdisk --dump` text, apply a table to a target. */
export type { PartitionEntry, PartitionLabel, PartitionTable } from './types';
export { readPartitionTable } from './read';
export { formatSfdiskDump, partitionDevicePath } from './dump';
export { parseSfdiskDump, type ParseOptions } from './parse';
export { applyPartitionTable, type ApplyOptions, type Geometry } from './apply';
export { growLastPartition } from './grow';
export { rereadPartitionTable } from './os';
