/**
 * Everything the CLI shows a person or a script: a progress line on a TTY, JSON lines with --json,
 * confirmations for destructive commands, and errors as one sentence.
 */
import { createInterface } from 'node:readline/promises';
import { AtlasError, toAtlasError } from '../engine/errors';
import type { Progress } from '../engine/progress';
import { formatBytes, formatDuration, formatRate } from '../engine/format';
import { stageLabel } from '../shared/stages';

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export class CliUI {
  private progressShown = false;

  constructor(
    readonly io: CliIO,
    readonly json: boolean,
  ) {}

  get interactive(): boolean {
    return Boolean(this.io.stdin.isTTY && this.io.stderr.isTTY);
  }

  /** A human line (stderr when --json, so stdout stays machine-readable). */
  info(line: string): void {
    this.clearProgress();
    (this.json ? this.io.stderr : this.io.stdout).write(`${line}\n`);
  }

  warn(line: string): void {
    this.clearProgress();
    this.io.stderr.write(`warning: ${line}\n`);
  }

  progress = (p: Progress): void => {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify({ type: 'progress', ...p })}\n`);
      return;
    }
    if (!this.io.stderr.isTTY) return;
    const pct = p.bytesTotal ? ` ${((100 * p.bytesDone) / p.bytesTotal).toFixed(1).padStart(5)}%` : '';
    const total = p.bytesTotal ? ` / ${formatBytes(p.bytesTotal)}` : '';
    const eta = p.etaSeconds === null ? '' : `  ETA ${formatDuration(p.etaSeconds)}`;
    const detail = p.detail ? ` ${p.detail}` : '';
    const line = `${stageLabel(p.stage)}${detail}${pct}  ${formatBytes(p.bytesDone)}${total}  ${formatRate(p.rate)}${eta}`;
    this.io.stderr.write(`\r\x1b[K${line}`);
    this.progressShown = true;
  };

  /** The command's outcome: a JSON object with --json, else the given human lines. */
  result(data: Record<string, unknown>, humanLines: string[]): void {
    this.clearProgress();
    if (this.json) this.io.stdout.write(`${JSON.stringify({ type: 'result', ...data })}\n`);
    else for (const line of humanLines) this.io.stdout.write(`${line}\n`);
  }

  error(error: unknown): number {
    this.clearProgress();
    const e = toAtlasError(error);
    if (this.json) this.io.stdout.write(`${JSON.stringify({ type: 'error', ...e.toJSON() })}\n`);
    this.io.stderr.write(`atlas: ${e.message}\n`);
    return e.code === 'CANCELLED' ? 130 : 1;
  }

  /**
   * Asks before a destructive step. `--yes` skips the question; without a TTY and without `--yes` we refuse,
   * because a script that forgot `--yes` must not wipe a card by accident.
   */
  async confirm(question: string, yes: boolean): Promise<void> {
    if (yes) return;
    if (!this.interactive) {
      throw new AtlasError(
        'CONFIRMATION_REQUIRED',
        `${question} Refusing without a terminal to confirm: pass --yes to proceed.`,
      );
    }
    this.clearProgress();
    const rl = createInterface({ input: this.io.stdin, output: this.io.stderr });
    try {
      const answer = await rl.question(`${question} Type "yes" to continue: `);
      if (answer.trim().toLowerCase() !== 'yes')
        throw new AtlasError('CANCELLED', 'Not confirmed; nothing was written.');
    } finally {
      rl.close();
    }
  }

  private clearProgress(): void {
    if (this.progressShown) {
      this.io.stderr.write('\r\x1b[K');
      this.progressShown = false;
    }
  }
}
