/* Renders an image built in memory with one format and view, the way
 * main does for one file (decode, judge, show), into a string the test
 * owns. */
#ifndef QCOW2DUMP_TEST_RENDER_H
#define QCOW2DUMP_TEST_RENDER_H

#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "emit.h"
#include "judge.h"
#include "out.h"
#include "walk.h"

static inline char *render_image(const struct q2_format *fmt,
				 const uint8_t *b, size_t len,
				 const struct q2_run_opts *opts,
				 const char *path)
{
	static struct q2_out out;
	struct q2_decode_opts dopts;
	struct q2_judgement j;
	struct q2_chain c;
	struct q2_run run;
	char *s;

	q2_out_init_mem(&out);
	if (!q2_run_begin(&run, fmt, opts, &out))
		abort();
	dopts = q2_run_decode_opts(&run);
	if (!q2_chain_of_memory(&c, path, b, len, &dopts))
		abort();
	q2_run_chain(&run, &c, &j);
	q2_run_end(&run);
	if (!q2_out_flush(&out))
		abort();
	s = strdup(out.mem);
	q2_out_free(&out);
	q2_judgement_free(&j);
	q2_chain_free(&c);
	return s;
}

#endif
