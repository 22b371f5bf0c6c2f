/* Renders an image built in memory with one format and view, the way
 * main does for one file, into a string the test owns. */
#ifndef QCOW2DUMP_TEST_RENDER_H
#define QCOW2DUMP_TEST_RENDER_H

#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "out.h"
#include "walk.h"

static inline char *render_image(const struct q2_format *fmt,
				 const uint8_t *b, size_t len,
				 const struct q2_run_opts *opts,
				 const char *path)
{
	static struct q2_out out;
	struct q2_decode_opts dopts;
	struct q2_reader r;
	struct q2_image img;
	struct q2_source src = { .path = path, .r = &r, .img = &img };
	struct q2_run run;
	char *s;

	q2_out_init_mem(&out);
	if (!q2_run_begin(&run, fmt, opts, &out))
		abort();
	dopts = q2_run_decode_opts(&run);
	q2_reader_from_memory(&r, b, len);
	q2_decode(&r, &dopts, &img);
	img.lock = Q2_LOCK_NONE;
	q2_run_image(&run, &src);
	q2_run_end(&run);
	if (!q2_out_flush(&out))
		abort();
	s = strdup(out.mem);
	q2_out_free(&out);
	q2_image_free(&img);
	return s;
}

#endif
