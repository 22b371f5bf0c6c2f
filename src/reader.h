/* Read-only, bounds-checked access to an image: a file or block device
 * (through pread, no lock taken) or a buffer in memory (for unit tests and
 * the fuzzer).  No read ever goes outside [0, size). */
#ifndef QCOW2DUMP_READER_H
#define QCOW2DUMP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "problem.h"

struct q2_reader {
	int fd;             /* -1 when reading from mem */
	const uint8_t *mem;
	uint64_t size;
};

/* Opens path O_RDONLY; on failure returns false with *code Q2_C_OPEN or
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

/* Reads exactly len bytes at off (0 bytes anywhere succeed).  On failure returns false with *code
 * Q2_C_TRUNCATED when the range is not inside the image or the file
 * shrank under us, Q2_C_IO (and *sys_errno) on an I/O error. */
bool q2_read(const struct q2_reader *r, uint64_t off, void *buf, size_t len,
	     enum q2_code *code, int *sys_errno);

#endif
