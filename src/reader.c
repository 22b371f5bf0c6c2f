#include "config.h"

#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A FIFO without a writer would block open() for ever, and a character
 * device or socket is never an image: the file is opened without
 * blocking, its type checked, and only then read as usual. */
bool q2_reader_open(struct q2_reader *r, const char *path,
		    enum q2_code *code, int *sys_errno)
{
	return q2_reader_open_mode(r, path, false, code, sys_errno);
}

bool q2_reader_open_mode(struct q2_reader *r, const char *path, bool direct,
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
	/* without it every read goes straight to the file */
	/* a hint: read-ahead would cache the pages of data clusters next
	 * to the metadata read (see struct q2_window) */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	r->window = aligned_alloc(Q2_DIRECT_ALIGN, sizeof *r->window);
	if (r->window) {
		r->window->off = 0;
		r->window->len = 0;
		r->window->direct = false;
		/* where the file system has no O_DIRECT (tmpfs), buffered */
		if (direct && fcntl(fd, F_SETFL, (flags & ~O_NONBLOCK) | O_DIRECT) == 0)
			r->window->direct = true;
	}
	return true;
}

void q2_reader_end_direct(const struct q2_reader *r)
{
	int flags;

	if (!q2_reader_direct(r))
		return;
	flags = fcntl(r->fd, F_GETFL);
	if (flags >= 0 && fcntl(r->fd, F_SETFL, flags & ~O_DIRECT) == 0)
		r->window->direct = false;
}

void q2_reader_from_memory(struct q2_reader *r, const void *buf, size_t len)
{
	r->fd = -1;
	r->mem = buf;
	r->size = len;
	r->window = NULL;
}

void q2_reader_close(struct q2_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->window);
	r->window = NULL;
}

/* pread until len bytes or the end of the file: the bytes read, or -1
 * with errno set */
static ssize_t pread_full(int fd, uint8_t *dst, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, dst + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* want bytes at start (a multiple of Q2_DIRECT_ALIGN when direct) into
 * the window's buffer: the bytes read, or -1 with errno set.  O_DIRECT
 * reads whole blocks; the file's end cuts the last one short. */
static ssize_t window_fill(const struct q2_reader *r, uint64_t start, size_t want)
{
	size_t whole = q2_reader_direct(r) ? (want + Q2_DIRECT_ALIGN - 1u) & ~(size_t)(Q2_DIRECT_ALIGN - 1u)
				 : want;
	ssize_t got = pread_full(r->fd, r->window->buf, whole, start);

	return got > (ssize_t)want ? (ssize_t)want : got;
}

/* The window refilled from the block boundary at or below off: the
 * bytes it holds, or -1 with errno set. */
static ssize_t window_load(const struct q2_reader *r, uint64_t off)
{
	struct q2_window *w = r->window;
	uint64_t start = off & ~(uint64_t)(Q2_DIRECT_ALIGN - 1u);
	size_t want = r->size - start < Q2_WINDOW ? (size_t)(r->size - start) : Q2_WINDOW;
	ssize_t got;

	w->len = 0;
	got = window_fill(r, start, want);
	if (got < 0)
		return -1;
	w->off = start;
	w->len = (size_t)got;
	return got;
}

/* A read of any size through the window, a block-aligned piece at a
 * time (O_DIRECT); false with errno set, or errno 0 when the file ended
 * before len bytes. */
static bool direct_read(const struct q2_reader *r, uint64_t off, uint8_t *dst,
			size_t len)
{
	struct q2_window *w = r->window;

	while (len) {
		ssize_t got = window_load(r, off);
		size_t skip = (size_t)(off - w->off), n;

		if (got < 0)
			return false;
		if ((size_t)got <= skip) {
			errno = 0;
			return false;
		}
		n = (size_t)got - skip < len ? (size_t)got - skip : len;
		memcpy(dst, w->buf + skip, n);
		dst += n;
		off += n;
		len -= n;
	}
	return true;
}

/* Serves a small read from the window, refilled from a 4 KiB boundary at
 * or below off; false when the window cannot hold it (then the caller
 * reads it directly, and an error is that read's own). */
static bool window_read(const struct q2_reader *r, uint64_t off, uint8_t *dst,
			size_t len)
{
	struct q2_window *w = r->window;

	if (!w || len > Q2_WINDOW / 4)
		return false;
	if (off < w->off || off - w->off > w->len || len > w->len - (off - w->off)) {
		if (window_load(r, off) < 0)
			return false;
		if (off - w->off > w->len || len > w->len - (off - w->off))
			return false;
	}
	memcpy(dst, w->buf + (off - w->off), len);
	return true;
}

bool q2_read(const struct q2_reader *r, uint64_t off, void *buf, size_t len,
	     enum q2_code *code, int *sys_errno)
{
	uint8_t *dst = buf;
	ssize_t got;

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
	if (window_read(r, off, dst, len))
		return true;
	if (q2_reader_direct(r)) {
		const size_t a = Q2_DIRECT_ALIGN - 1u;

		/* whole aligned blocks into an aligned buffer: one read */
		if (!(off & a) && !(len & a) && !((uintptr_t)dst & a)) {
			got = pread_full(r->fd, dst, len, off);
			if (got < 0) {
				*code = Q2_C_IO;
				*sys_errno = errno;
				return false;
			}
			return (size_t)got == len;
		}
		if (direct_read(r, off, dst, len))
			return true;
		*code = errno ? Q2_C_IO : Q2_C_TRUNCATED;
		*sys_errno = errno;
		return false;
	}
	got = pread_full(r->fd, dst, len, off);
	if (got < 0) {
		*code = Q2_C_IO;
		*sys_errno = errno;
		return false;
	}
	return (size_t)got == len;
}

bool q2_reader_allocated(const struct q2_reader *r, uint64_t *bytes)
{
	struct stat st;

	if (r->fd < 0) {
		*bytes = r->size;
		return true;
	}
	if (fstat(r->fd, &st) != 0)
		return false;
	*bytes = (uint64_t)st.st_blocks * 512u;
	return true;
}

int q2_reader_find_allocation(const struct q2_reader *r, uint64_t off,
			      uint64_t *data, uint64_t *hole)
{
	off_t at;

	if (r->fd < 0) {
		if (off >= r->size)
			return -ENXIO;
		*data = off;
		*hole = r->size;
		return 0;
	}
	if (off > (uint64_t)INT64_MAX)
		return -ENXIO;
	at = lseek(r->fd, (off_t)off, SEEK_DATA);
	if (at < 0)
		return -errno;
	if ((uint64_t)at < off)
		return -EIO;
	if ((uint64_t)at > off) {
		*hole = off;
		*data = (uint64_t)at;
		return 0;
	}
	at = lseek(r->fd, (off_t)off, SEEK_HOLE);
	if (at < 0)
		return -errno;
	if ((uint64_t)at <= off)
		return (uint64_t)at < off ? -EIO : -EBUSY;
	*data = off;
	*hole = (uint64_t)at;
	return 0;
}
