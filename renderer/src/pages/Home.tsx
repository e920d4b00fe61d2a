import { useNav, type Page } from '../stores/nav';

const PHASES: Array<{ phase: string; title: string; text: string; action?: { label: string; page: Page } }> =
  [
    {
      phase: 'Phase 0',
      title: 'Insert',
      text: 'Base Armbian image + atlas_firstboot.sh, atlas-firstboot.service and atlas_secrets.conf → ods-atlas-golden-vN-P-TAG.img. Flash it; firstboot provisions the device.',
      action: { label: 'Build a golden image', page: 'insert' },
    },
    {
      phase: 'Phase 1',
      title: 'Clone',
      text: 'A configured dev card → golden-clone-TAG/ (partition table + partclone images). Restore it to deploy or to roll back.',
      action: { label: 'Clone a card', page: 'clone' },
    },
    {
      phase: 'Phase 2',
      title: 'Enrollment boot',
      text: 'Sealed splash, management server enrollment. Happens on the device.',
    },
    {
      phase: 'Phase 3',
      title: 'Production boot',
      text: 'Kiosk mode, full boot pipeline. Happens on the device.',
    },
  ];

export function HomePage() {
  const go = useNav((s) => s.go);
  return (
    <div className="page" data-testid="page-home">
      <header className="page-header">
        <h1>Atlas Imager</h1>
        <p className="muted">
          Build, flash, clone, restore and archive the SD-card images of the ODS Atlas kiosks.
        </p>
      </header>
      <p className="rule" data-testid="phase-rule">
        Insert creates Phase 0. Clone creates Phase 1. Never cross these.
      </p>
      <ol className="phases">
        {PHASES.map((p) => (
          <li key={p.phase} className="card phase-card">
            <span className="phase-label">{p.phase}</span>
            <h2>{p.title}</h2>
            <p>{p.text}</p>
            {p.action && (
              <button type="button" className="button" onClick={() => go(p.action!.page)}>
                {p.action.label}
              </button>
            )}
          </li>
        ))}
      </ol>
      <div className="home-actions">
        <button
          type="button"
          className="button button-primary"
          onClick={() => go('flash')}
          data-testid="home-flash"
        >
          Flash an image
        </button>
        <button type="button" className="button" onClick={() => go('restore')}>
          Restore a clone
        </button>
        <button type="button" className="button" onClick={() => go('library')}>
          Open the library
        </button>
      </div>
    </div>
  );
}
