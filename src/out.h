/* The one buffered writer under every output format: its own buffer, one
 * write(2) per buffer-full, integers formatted without printf.  It writes
 * to a file descriptor, or into memory for the unit tests and the fuzzer.
 * A write error is remembered; later output is dropped. */
#ifndef QCOW2DUMP_OUT_H
#define QCOW2DUMP_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define Q2_OUT_BUF (64u * 1024u)

struct q2_out {
	int fd;            /* -1: into mem */
	char *mem;         /* malloc'd, NUL-terminated when flushed */
	size_t mem_len;
	bool failed;
	int err;           /* errno of the failure (ENOMEM for mem) */
	size_t len;
	char buf[Q2_OUT_BUF];
};

void q2_out_init_fd(struct q2_out *o, int fd);
void q2_out_init_mem(struct q2_out *o);
/* Writes the buffer out; false when anything failed so far. */
bool q2_out_flush(struct q2_out *o);
/* Releases the memory of a mem writer (after a flush, o->mem holds it). */
void q2_out_free(struct q2_out *o);

void q2_out_write_slow(struct q2_out *o, const void *p, size_t n);

static inline void q2_out_write(struct q2_out *o, const void *p, size_t n)
{
	if (n <= Q2_OUT_BUF - o->len) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return;
	}
	q2_out_write_slow(o, p, n);
}

static inline void q2_out_char(struct q2_out *o, char c)
{
	if (o->len == Q2_OUT_BUF)
		q2_out_flush(o);
	o->buf[o->len++] = c;
}

/* Makes room for n bytes in the buffer (n <= Q2_OUT_BUF), so that the
 * next n bytes written stay in it. */
static inline void q2_out_reserve(struct q2_out *o, size_t n)
{
	if (n > Q2_OUT_BUF - o->len)
		q2_out_flush(o);
}

static inline void q2_out_str(struct q2_out *o, const char *s)
{
	q2_out_write(o, s, strlen(s));
}

void q2_out_u64(struct q2_out *o, uint64_t v);
/* lowercase hex digits, no prefix */
void q2_out_hex(struct q2_out *o, uint64_t v);
void q2_out_spaces(struct q2_out *o, size_t n);
/* s, then spaces up to width (printf's %-*s) */
void q2_out_padded(struct q2_out *o, const char *s, size_t len, size_t width);
/* bytes as two lowercase hex digits each */
void q2_out_hexbytes(struct q2_out *o, const uint8_t *p, size_t n);

#endif
