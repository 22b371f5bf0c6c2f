#include "config.h"

#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A FIFO without a writer would block open() for ever, and a character
 * device or socket is never an image: the file is opened without
 * blocking, its type checked, and only then read as usual. */
bool q2_reader_open(struct q2_reader *r, const char *path,
		    enum q2_code *code, int *sys_errno)
{
	struct stat st;
	off_t end;
	int fd, flags;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	*code = Q2_C_OPEN;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*sys_errno = errno;
		return false;
	}
	if (fstat(fd, &st) != 0) {
		*sys_errno = errno;
		close(fd);
		return false;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		*code = Q2_C_NOT_A_FILE;
		*sys_errno = S_ISDIR(st.st_mode) ? EISDIR : 0;
		close(fd);
		return false;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		*sys_errno = errno;
		close(fd);
		return false;
	}
	/* st_size is 0 for a block device; the end offset is right for both. */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		*code = Q2_C_IO;
		*sys_errno = errno;
		close(fd);
		return false;
	}
	r->fd = fd;
	r->size = (uint64_t)end;
	return true;
}

void q2_reader_from_memory(struct q2_reader *r, const void *buf, size_t len)
{
	r->fd = -1;
	r->mem = buf;
	r->size = len;
}

void q2_reader_close(struct q2_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

bool q2_read(const struct q2_reader *r, uint64_t off, void *buf, size_t len,
	     enum q2_code *code, int *sys_errno)
{
	uint8_t *dst = buf;

	*code = Q2_C_TRUNCATED;
	*sys_errno = 0;
	/* nothing to read is never outside the file, wherever it starts */
	if (len == 0)
		return true;
	if (!q2_reader_fits(r, off, len))
		return false;
	if (r->fd < 0) {
		if (len)
			memcpy(dst, r->mem + off, len);
		return true;
	}
	while (len > 0) {
		ssize_t n = pread(r->fd, dst, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			*code = Q2_C_IO;
			*sys_errno = errno;
			return false;
		}
		if (n == 0)
			return false;
		dst += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return true;
}
