/** The system's file manager for the handlers' `shell:show-item` (which checks the path is a Library artifact). */
import { shell } from 'electron';

export function showItemInFolder(path: string): void {
  shell.showItemInFolder(path);
}
