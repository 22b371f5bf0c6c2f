/* Read-only, bounds-checked access to an image: a file or block device
 * (through pread, no lock taken) or a buffer in memory (for unit tests and
 * the fuzzer).  No read ever goes outside [0, size). */
#ifndef QCOW2DUMP_READER_H
#define QCOW2DUMP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "problem.h"

/* The last Q2_WINDOW bytes read around a small read: the directory's
 * tables, refcount blocks and snapshot entries are many small reads of
 * nearby bytes, and one pread(2) each cost more than all the decoding
 * (65535 bitmaps: 65535 reads of one table each). */
#define Q2_WINDOW (64u * 1024u)
/* O_DIRECT reads: offsets, lengths and buffers in multiples of this */
#define Q2_DIRECT_ALIGN 4096u
struct q2_window {
	/* first, and aligned for O_DIRECT (the window is aligned_alloc'd) */
	_Alignas(Q2_DIRECT_ALIGN) uint8_t buf[Q2_WINDOW];
	uint64_t off;
	size_t len;         /* 0: holds nothing */
	/* the file is read with O_DIRECT, through this window: no page of
	 * it enters the page cache, and no read-ahead starts (--map) */
	bool direct;
};

struct q2_reader {
	int fd;             /* -1 when reading from mem */
	const uint8_t *mem;
	uint64_t size;
	/* NULL when its allocation failed, or for mem; shared by copies of
	 * the reader, whose reads it serves alike; freed by close */
	struct q2_window *window;
};

/* Whether r reads with O_DIRECT. */
static inline bool q2_reader_direct(const struct q2_reader *r)
{
	return r->window && r->window->direct;
}

/* Stops reading with O_DIRECT: the page cache serves the reads from
 * now on (a layer whose holes nobody asks the file system about). */
void q2_reader_end_direct(const struct q2_reader *r);

/* Opens path O_RDONLY (and tells the kernel the reads are random: no
 * read-ahead into the guest's data); with direct, bypassing the page
 * cache where the file system allows it (O_DIRECT): what SEEK_DATA says
 * of a preallocated extent depends on the pages cached over it, which
 * buffered reads of the metadata can add by read-ahead, even random
 * ones: the answer would then be another than qemu-img map's.  q2_reader_open is open_mode's
 * buffered case. */
bool q2_reader_open_mode(struct q2_reader *r, const char *path, bool direct,
			 enum q2_code *code, int *sys_errno);
/* Opens path O_RDONLY (as above, buffered); on failure returns false with *code Q2_C_OPEN or
 * Q2_C_IO and *sys_errno set. */
bool q2_reader_open(struct q2_reader *r, const char *path,
		    enum q2_code *code, int *sys_errno);
void q2_reader_from_memory(struct q2_reader *r, const void *buf, size_t len);
void q2_reader_close(struct q2_reader *r);

/* True when [off, off + len) lies inside the image. */
static inline int q2_reader_fits(const struct q2_reader *r, uint64_t off,
				 uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

/* Reads exactly len bytes at off (0 bytes anywhere succeed).  On failure
 * returns false with *code Q2_C_TRUNCATED when the range is not inside
 * the image or the file shrank under us, Q2_C_IO (and *sys_errno) on an
 * I/O error.  Only the bytes asked for decide success: an error in the
 * window's read-ahead falls back to reading exactly them. */
bool q2_read(const struct q2_reader *r, uint64_t off, void *buf, size_t len,
	     enum q2_code *code, int *sys_errno);

/* What QEMU's file driver asks of the file beyond its bytes (block/
 * file-posix.c): the bytes the file takes on its device (st_blocks *
 * 512; for a buffer in memory, its size) ... */
bool q2_reader_allocated(const struct q2_reader *r, uint64_t *bytes);

/* ... and, at off, whether off lies in data or in a hole, as
 * SEEK_DATA/SEEK_HOLE say: 0 with *data == off and *hole the end of the
 * data, or *data > off the next data and *hole == off; -ENXIO when no
 * data follows off (a trailing hole); another negative errno when the
 * file cannot tell (then QEMU takes it all as data).  A buffer in memory
 * is data throughout. */
int q2_reader_find_allocation(const struct q2_reader *r, uint64_t off,
			      uint64_t *data, uint64_t *hole);

#endif
