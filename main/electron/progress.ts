/** Dock / taskbar progress and the window title while jobs run (as Etcher shows it). */
import type { BrowserWindow } from 'electron';
import type { ActiveJob } from '../app/jobs';

export function showJobProgress(window: BrowserWindow | null, jobs: ActiveJob[]): void {
  if (!window || window.isDestroyed()) return;
  if (jobs.length === 0) {
    window.setProgressBar(-1);
    window.setTitle('Atlas Imager');
    return;
  }
  let done = 0;
  let total = 0;
  for (const job of jobs) {
    if (job.progress?.bytesTotal) {
      done += job.progress.bytesDone;
      total += job.progress.bytesTotal;
    }
  }
  if (total > 0) {
    const fraction = Math.min(1, done / total);
    window.setProgressBar(fraction);
    const stage = jobs[0]!.progress?.stage ?? jobs[0]!.kind;
    window.setTitle(`${Math.floor(fraction * 100)}% ${stage} — Atlas Imager`);
  } else {
    // indeterminate
    window.setProgressBar(2, { mode: 'indeterminate' });
  }
}
