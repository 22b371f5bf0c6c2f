#include "config.h"

#include "out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void q2_out_init_fd(struct q2_out *o, int fd)
{
	o->fd = fd;
	o->mem = NULL;
	o->mem_len = 0;
	o->failed = false;
	o->err = 0;
	o->len = 0;
}

void q2_out_init_mem(struct q2_out *o)
{
	q2_out_init_fd(o, -1);
}

static void fail(struct q2_out *o, int err)
{
	if (!o->failed) {
		o->failed = true;
		o->err = err;
	}
}

static void to_mem(struct q2_out *o, const char *p, size_t n)
{
	char *grown = realloc(o->mem, o->mem_len + n + 1);

	if (!grown) {
		fail(o, ENOMEM);
		return;
	}
	o->mem = grown;
	memcpy(o->mem + o->mem_len, p, n);
	o->mem_len += n;
	o->mem[o->mem_len] = 0;
}

static void to_fd(struct q2_out *o, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(o->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fail(o, errno);
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void put_out(struct q2_out *o, const char *p, size_t n)
{
	if (o->failed || !n)
		return;
	if (o->fd < 0)
		to_mem(o, p, n);
	else
		to_fd(o, p, n);
}

bool q2_out_flush(struct q2_out *o)
{
	put_out(o, o->buf, o->len);
	o->len = 0;
	if (o->fd < 0 && !o->mem && !o->failed)
		to_mem(o, "", 0);
	return !o->failed;
}

void q2_out_free(struct q2_out *o)
{
	free(o->mem);
	o->mem = NULL;
	o->mem_len = 0;
}

void q2_out_write_slow(struct q2_out *o, const void *p, size_t n)
{
	q2_out_flush(o);
	if (n >= Q2_OUT_BUF) {
		put_out(o, p, n);
		return;
	}
	memcpy(o->buf, p, n);
	o->len = n;
}

void q2_out_u64(struct q2_out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	q2_out_write(o, tmp + i, sizeof tmp - i);
}

void q2_out_hex(struct q2_out *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	q2_out_write(o, tmp + i, sizeof tmp - i);
}

void q2_out_spaces(struct q2_out *o, size_t n)
{
	static const char sp[32] = "                                ";

	while (n > sizeof sp) {
		q2_out_write(o, sp, sizeof sp);
		n -= sizeof sp;
	}
	q2_out_write(o, sp, n);
}

void q2_out_padded(struct q2_out *o, const char *s, size_t len, size_t width)
{
	q2_out_write(o, s, len);
	if (len < width)
		q2_out_spaces(o, width - len);
}

void q2_out_hexbytes(struct q2_out *o, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		q2_out_char(o, digits[p[i] >> 4]);
		q2_out_char(o, digits[p[i] & 15]);
	}
}
