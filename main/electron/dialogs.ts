/** Native file and folder pickers for the handlers' `dialog:*` channels. */
import { dialog, type BrowserWindow } from 'electron';
import type { Dialogs } from '../app/handlers';
import type { FilePurpose, FolderPurpose } from '../contract';

const FILES: Record<FilePurpose, { title: string; filters: Electron.FileFilter[] }> = {
  image: {
    title: 'Choose an image to flash',
    filters: [{ name: 'Disk images', extensions: ['img', 'gz', 'xz', 'zip', 'zst'] }],
  },
  'base-image': {
    title: 'Choose the base Armbian image',
    filters: [{ name: 'Armbian images', extensions: ['img', 'xz', 'gz', 'zip'] }],
  },
  firstboot: { title: 'Choose atlas_firstboot.sh', filters: [{ name: 'Shell scripts', extensions: ['sh'] }] },
  service: {
    title: 'Choose atlas-firstboot.service',
    filters: [{ name: 'systemd units', extensions: ['service'] }],
  },
  secrets: { title: 'Choose atlas_secrets.conf', filters: [{ name: 'Config files', extensions: ['conf'] }] },
};

const FOLDERS: Record<FolderPurpose, string> = {
  build: 'Choose the build folder',
  vault: 'Choose the vault folder',
  'clone-folder': 'Choose a golden-clone folder to restore',
  output: 'Choose where to write',
};

export function electronDialogs(window: () => BrowserWindow | null): Dialogs {
  return {
    async openFile(purpose, defaultPath) {
      const { title, filters } = FILES[purpose];
      const options: Electron.OpenDialogOptions = {
        title,
        defaultPath,
        properties: ['openFile'],
        filters: [...filters, { name: 'All files', extensions: ['*'] }],
      };
      const parent = window();
      const result = parent
        ? await dialog.showOpenDialog(parent, options)
        : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    async openFolder(purpose, defaultPath) {
      const options: Electron.OpenDialogOptions = {
        title: FOLDERS[purpose],
        defaultPath,
        properties: ['openDirectory', 'createDirectory'],
      };
      const parent = window();
      const result = parent
        ? await dialog.showOpenDialog(parent, options)
        : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
  };
}
