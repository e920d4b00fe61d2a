import { useEffect, useState } from 'react';
import { useNav, type Page } from './stores/nav';
import { useDrives } from './stores/drives';
import { useJobs } from './stores/jobs';
import { useSettings } from './stores/settings';
import { HomePage } from './pages/Home';
import { FlashPage } from './pages/Flash';
import { InsertPage } from './pages/Insert';
import { ClonePage } from './pages/Clone';
import { RestorePage } from './pages/Restore';
import { LibraryPage } from './pages/Library';
import { useFlash } from './stores/flash';
import { useRestore } from './stores/restore';
import { useClone } from './stores/clone';
import { pathForFile } from './api';
import { CLONE_FOLDER_PATTERN } from './format';

/**
 * Something dropped anywhere on the window (Etcher's ease): a clone folder goes to Restore, anything else to
 * Flash, which says plainly when it is not an image. A drop on a field of its own (Insert's inputs) is that
 * field's, and never lands here.
 */
function routeDrop(event: React.DragEvent): void {
  if (event.defaultPrevented) return;
  event.preventDefault();
  const file = event.dataTransfer.files[0];
  const path = file ? pathForFile(file) : '';
  if (!file || !path) return;
  const entry = event.dataTransfer.items[0]?.webkitGetAsEntry?.();
  const go = useNav.getState().go;
  if (entry?.isDirectory || CLONE_FOLDER_PATTERN.test(file.name)) {
    void useRestore.getState().setFolder(path);
    go('restore');
  } else {
    void useFlash.getState().chooseImage(path);
    go('flash');
  }
}

const NAV: Array<{ page: Page; label: string; sub?: string }> = [
  { page: 'home', label: 'Home' },
  { page: 'flash', label: 'Flash' },
  { page: 'insert', label: 'Insert', sub: 'Phase 0' },
  { page: 'clone', label: 'Clone', sub: 'Phase 1' },
  { page: 'restore', label: 'Restore' },
  { page: 'library', label: 'Library' },
];

const PAGES: Record<Page, () => React.ReactNode> = {
  home: HomePage,
  flash: FlashPage,
  insert: InsertPage,
  clone: ClonePage,
  restore: RestorePage,
  library: LibraryPage,
};

export function App() {
  const page = useNav((s) => s.page);
  const go = useNav((s) => s.go);
  const running = useJobs((s) => Object.values(s.jobs).filter((j) => !j.outcome).length);

  useEffect(() => {
    const stopJobs = useJobs.getState().watch();
    const stopDrives = useDrives.getState().watch();
    // one place keeps every page's choice of cards honest as cards come and go
    const stopFollowing = useDrives.subscribe(({ drives }) => {
      useFlash.getState().dropGone(drives);
      useRestore.getState().dropGone(drives);
      useClone.getState().dropGone(drives);
    });
    void useDrives.getState().refresh();
    void useSettings.getState().load();
    return () => {
      stopJobs();
      stopDrives();
      stopFollowing();
    };
  }, []);

  const [dragging, setDragging] = useState(false);
  const Current = PAGES[page];
  return (
    <div
      className="shell"
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.relatedTarget === null) setDragging(false);
      }}
      onDrop={(e) => {
        setDragging(false);
        routeDrop(e);
      }}
    >
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          Drop an image to flash it, or a clone folder to restore it
        </div>
      )}
      <nav className="sidebar" aria-label="Sections">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Atlas Imager
        </div>
        <ul>
          {NAV.map((n) => (
            <li key={n.page}>
              <button
                type="button"
                className={`nav-item${page === n.page ? ' nav-item-active' : ''}`}
                aria-current={page === n.page ? 'page' : undefined}
                onClick={() => go(n.page)}
                data-testid={`nav-${n.page}`}
              >
                {n.label}
                {n.sub && <span className="nav-sub">{n.sub}</span>}
              </button>
            </li>
          ))}
        </ul>
        {running > 0 && (
          <p className="sidebar-status" role="status">
            {running} job{running > 1 ? 's' : ''} running
          </p>
        )}
      </nav>
      <main className="content">
        <Current />
      </main>
    </div>
  );
}
