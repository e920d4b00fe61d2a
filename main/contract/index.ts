/** The typed IPC contract shared by main, the preload and the renderer. Types only. */
export type * from './dto';
export type * from './channels';
export type * from './api';
