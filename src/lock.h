/* Does a QEMU hold the image right now?  QEMU (block/file-posix.c) holds
 * shared OFD locks on single bytes: 100 + i for each permission i it has
 * (0 consistent read, 1 write, 2 write unchanged, 3 resize), 200 + i for
 * each it will not share.  Asking with F_OFD_GETLK takes no lock, never
 * blocks and works on a read-only descriptor.  It sees the QEMUs of this
 * host only: one on another host of shared storage is invisible. */
#ifndef QCOW2DUMP_LOCK_H
#define QCOW2DUMP_LOCK_H

/* What a read-only probe of QEMU's lock bytes says. */
enum q2_lock {
	Q2_LOCK_UNKNOWN,        /* not probed, or the probe failed */
	Q2_LOCK_NONE,           /* no QEMU holds the image */
	Q2_LOCK_READ,           /* a QEMU holds it, without write permission */
	Q2_LOCK_WRITE,          /* a QEMU holds it with write permission */
};

enum q2_lock q2_lock_probe(int fd);

#endif
