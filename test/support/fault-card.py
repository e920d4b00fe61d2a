#!/usr/bin/python3
"""A card whose faults a test controls: a FUSE filesystem exposing one file, `card`, to put a loop device on.

usage: fault-card.py MOUNTPOINT BACKING_FILE SIZE CONFIG_JSON

The data lives in BACKING_FILE (sparse). CONFIG_JSON is read again whenever it changes, so a test can turn a
fault on while a job runs. Its fields (all optional, offsets in bytes of the card):
  eioReadFrom / eioWriteFrom   reads / writes touching this offset or beyond fail with EIO
  flipOnReadAt                 the byte at this offset reads back inverted (silent corruption)
  realCapacity                 a fake-capacity card: offset x is stored at x mod realCapacity (wrap-around)
  vanishAfterBytes             after this many bytes written, every read and write fails with EIO
  gone                         every read and write fails with EIO: the card was pulled (fault-card.ts pull()
                               also removes the loop device's node, as a pulled USB card's disappears)
  throttleBytesPerSecond       reads and writes are slowed to this rate
It mounts with direct_io, so the page cache never answers for the card: every read and write of the loop
device reaches this process. Debian's python3-fusepy (FUSE 2 API through libfuse2) is all it needs; a Node
FUSE binding would need a native build.
"""
import errno
import json
import os
import stat
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

NAME = '/card'


class FaultCard(Operations):
    def __init__(self, backing, size, config_path):
        self.fd = os.open(backing, os.O_RDWR)
        self.size = size
        self.config_path = config_path
        self.config = {}
        self.config_mtime = None
        self.written = 0
        self.mutex = threading.Lock()

    def _faults(self):
        try:
            st = os.stat(self.config_path)
        except FileNotFoundError:
            return self.config
        # the size too: two changes within one tick of the file system's clock keep the same mtime
        mtime = (st.st_mtime_ns, st.st_size)
        if mtime != self.config_mtime:
            with open(self.config_path) as f:
                text = f.read()
            if text.strip():
                self.config = json.loads(text)
                self.config_mtime = mtime
        return self.config

    def _throttle(self, c, length):
        rate = c.get('throttleBytesPerSecond')
        if rate:
            time.sleep(length / rate)

    def _pieces(self, c, offset, length):
        """(card offset, backing offset, length) pieces, split where a fake card wraps."""
        cap = c.get('realCapacity')
        if not cap:
            return [(offset, offset, length)]
        pieces = []
        while length > 0:
            inner = offset % cap
            n = min(length, cap - inner)
            pieces.append((offset, inner, n))
            offset += n
            length -= n
        return pieces

    def getattr(self, path, fh=None):
        now = time.time()
        if path == '/':
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2, st_atime=now, st_mtime=now, st_ctime=now)
        if path == NAME:
            return dict(st_mode=stat.S_IFREG | 0o600, st_nlink=1, st_size=self.size,
                        st_atime=now, st_mtime=now, st_ctime=now)
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return ['.', '..', NAME[1:]]

    def open(self, path, flags):
        if path != NAME:
            raise FuseOSError(errno.ENOENT)
        return 0

    def truncate(self, path, length, fh=None):
        raise FuseOSError(errno.EPERM)

    def read(self, path, length, offset, fh):
        c = self._faults()
        length = max(0, min(length, self.size - offset))
        self._throttle(c, length)
        if c.get('gone'):
            raise FuseOSError(errno.EIO)
        vanish = c.get('vanishAfterBytes')
        if vanish is not None and self.written >= vanish:
            raise FuseOSError(errno.EIO)
        eio = c.get('eioReadFrom')
        if eio is not None and offset + length > eio:
            raise FuseOSError(errno.EIO)
        data = bytearray()
        for _, inner, n in self._pieces(c, offset, length):
            data += os.pread(self.fd, n, inner).ljust(n, b'\0')
        flip = c.get('flipOnReadAt')
        if flip is not None and offset <= flip < offset + length:
            data[flip - offset] ^= 0xFF
        return bytes(data)

    def write(self, path, data, offset, fh):
        c = self._faults()
        if offset + len(data) > self.size:
            raise FuseOSError(errno.ENOSPC)
        self._throttle(c, len(data))
        with self.mutex:
            if c.get('gone'):
                raise FuseOSError(errno.EIO)
            vanish = c.get('vanishAfterBytes')
            if vanish is not None and self.written + len(data) > vanish:
                self.written = vanish
                raise FuseOSError(errno.EIO)
            eio = c.get('eioWriteFrom')
            if eio is not None and offset + len(data) > eio:
                raise FuseOSError(errno.EIO)
            view = memoryview(data)
            for card_at, inner, n in self._pieces(c, offset, len(data)):
                os.pwrite(self.fd, view[card_at - offset:card_at - offset + n], inner)
            self.written += len(data)
        return len(data)

    def fsync(self, path, datasync, fh):
        os.fsync(self.fd)
        return 0

    def flush(self, path, fh):
        return 0


def main():
    mountpoint, backing, size, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    FUSE(FaultCard(backing, size, config), mountpoint, foreground=True, nothreads=False,
         direct_io=True, allow_other=False, big_writes=True, max_write=1048576)


if __name__ == '__main__':
    main()
