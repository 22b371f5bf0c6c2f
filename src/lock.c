#include "config.h"

#include "lock.h"

#include <fcntl.h>
#include <string.h>

#define PERM_BYTES 100
#define SHARE_BYTES 200
#define PERM_WRITE 1
#define N_PERMS 4

/* Would a write lock on [start, start + len) conflict with a lock that
 * another open file description holds?  -1 when the question fails. */
static int held(int fd, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -1;
	return fl.l_type != F_UNLCK;
}

enum q2_lock q2_lock_probe(int fd)
{
	int w, any;

	if (fd < 0)
		return Q2_LOCK_UNKNOWN;
	/* byte 101 by itself: a probe over a range answers with the first
	 * conflicting lock only */
	w = held(fd, PERM_BYTES + PERM_WRITE, 1);
	if (w < 0)
		return Q2_LOCK_UNKNOWN;
	if (w)
		return Q2_LOCK_WRITE;
	any = held(fd, PERM_BYTES, SHARE_BYTES + N_PERMS - PERM_BYTES);
	if (any < 0)
		return Q2_LOCK_UNKNOWN;
	return any ? Q2_LOCK_READ : Q2_LOCK_NONE;
}
