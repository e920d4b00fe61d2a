/** restore_golden.sh, rendered from resources/restore_golden.sh.template for one clone folder. */
import { readResource } from '../resources';

export interface RestoreScriptInput {
  tag: string;
  created: string;
  version: string;
  partitions: Array<{ number: number; file: string; tool: string }>;
  /** the files the script checks before writing (sha256sum -c format) */
  sums: Array<{ name: string; sha256: string }>;
}

export function renderRestoreScript(input: RestoreScriptInput): string {
  const partitions = input.partitions.map((p) => `  "${p.number} ${p.file} ${p.tool}"`).join('\n');
  const sums = input.sums.map((f) => `${f.sha256}  ${f.name}`).join('\n');
  // tag and version are validated names; nothing here can inject shell syntax
  return readResource('restore_golden.sh.template')
    .replaceAll('@@PARTITIONS@@', partitions)
    .replaceAll('@@SHA256SUMS@@', sums)
    .replaceAll('@@TAG@@', input.tag)
    .replaceAll('@@CREATED@@', input.created)
    .replaceAll('@@VERSION@@', input.version);
}
