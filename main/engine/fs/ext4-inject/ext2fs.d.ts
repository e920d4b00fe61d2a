// Types for the parts of the `ext2fs` package (libext2fs compiled to WebAssembly) that the worker uses.
declare module 'ext2fs' {
  interface Ext2Disk {
    read(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<unknown>;
    write(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<unknown>;
    discard(offset: number, length: number): Promise<void>;
    flush(): Promise<void>;
  }
  interface Ext2Stats {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    isFile(): boolean;
    isDirectory(): boolean;
    isSymbolicLink(): boolean;
  }
  interface Ext2Promises {
    // flags: a string as Node's fs takes, or the binding's numbers (its lib/fs.js constants), e.g. O_NOATIME
    open(path: string, flags: string | number, mode?: number): Promise<{ fd: number }>;
    close(fd: number): Promise<void>;
    fstat(fd: number): Promise<Ext2Stats>;
    read(
      fd: number,
      buffer: Buffer,
      offset: number,
      length: number,
      position: number,
    ): Promise<{ bytesRead: number }>;
    write(
      fd: number,
      buffer: Buffer,
      offset: number,
      length: number,
      position: number,
    ): Promise<{ bytesWritten: number }>;
    mkdir(path: string, mode?: number): Promise<void>;
    symlink(target: string, path: string): Promise<void>;
    readlink(path: string): Promise<string>;
    readdir(path: string): Promise<string[]>;
    unlink(path: string): Promise<void>;
    lstat(path: string): Promise<Ext2Stats>;
    chmod(path: string, mode: number): Promise<void>;
    chown(path: string, uid: number, gid: number): Promise<void>;
    lchown(path: string, uid: number, gid: number): Promise<void>;
  }
  interface Ext2Fs {
    promises: Ext2Promises;
  }
  export function mount(disk: Ext2Disk, offset?: number): Promise<Ext2Fs>;
  export function umount(fs: Ext2Fs): Promise<void>;
}
