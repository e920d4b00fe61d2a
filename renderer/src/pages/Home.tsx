import { useNav, type Page } from '../stores/nav';

/** The four jobs, the most common first: each leads straight to its page. */
const ACTIONS: Array<{ page: Page; label: string; text: string }> = [
  { page: 'flash', label: 'Flash', text: 'Write a golden image to one or several cards.' },
  { page: 'insert', label: 'Insert', text: 'Build a golden image from a base Armbian image (Phase 0).' },
  { page: 'clone', label: 'Clone', text: 'Snapshot a configured card into a clone folder (Phase 1).' },
  { page: 'restore', label: 'Restore', text: 'Write a clone folder back to a card.' },
];

/** A kiosk card's life, as a line: the app makes the first two phases, the device lives the last two. */
const LIFECYCLE: Array<{ phase: string; step: string; where: string }> = [
  { phase: 'Phase 0', step: 'Insert', where: 'here' },
  { phase: 'Phase 1', step: 'Clone', where: 'here' },
  { phase: 'Phase 2', step: 'Enrollment boot', where: 'on the device' },
  { phase: 'Phase 3', step: 'Production boot', where: 'on the device' },
];

export function HomePage() {
  const go = useNav((s) => s.go);
  return (
    <div className="page" data-testid="page-home">
      <header className="page-header">
        <h1>Atlas Imager</h1>
        <p className="muted">
          Build, flash, clone, restore and archive the SD-card images of the ODS Atlas kiosks. Drop an image
          anywhere on this window to flash it, or a clone folder to restore it.
        </p>
      </header>
      <ul className="home-jobs" aria-label="Jobs">
        {ACTIONS.map((a, i) => (
          <li key={a.page}>
            <button
              type="button"
              className={`job-button${i === 0 ? ' job-button-primary' : ''}`}
              onClick={() => go(a.page)}
              data-testid={`home-${a.page}`}
            >
              <span className="job-button-label">{a.label}</span>
              <span className="job-button-text">{a.text}</span>
            </button>
          </li>
        ))}
      </ul>
      <section className="lifecycle" aria-labelledby="lifecycle-title">
        <h2 id="lifecycle-title" className="lifecycle-title">
          A kiosk card&apos;s life
        </h2>
        <ol className="lifecycle-steps" data-testid="lifecycle">
          {LIFECYCLE.map((l) => (
            <li key={l.phase} className={l.where === 'here' ? 'lifecycle-here' : undefined}>
              <span className="lifecycle-phase">{l.phase}</span> {l.step}
              <span className="lifecycle-where"> ({l.where})</span>
            </li>
          ))}
        </ol>
        <p className="rule" data-testid="phase-rule">
          Insert creates Phase 0. Clone creates Phase 1. Never cross these.
        </p>
      </section>
      <p>
        <button
          type="button"
          className="link-button"
          onClick={() => go('library')}
          data-testid="home-library"
        >
          Open the library
        </button>{' '}
        <span className="muted">— every golden image and clone, in the build folder and the vault.</span>
      </p>
    </div>
  );
}
