#include "config.h"

#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extents.h"

static const struct q2_emitter *const emitters[] = {
	&q2_emitter_text,
	&q2_emitter_json,
	&q2_emitter_csv,
};

const struct q2_emitter *q2_emitter_find(const char *name)
{
	for (size_t i = 0; i < sizeof emitters / sizeof emitters[0]; i++)
		if (strcmp(emitters[i]->name, name) == 0)
			return emitters[i];
	return NULL;
}

char *q2_emitter_names(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof emitters / sizeof emitters[0]; i++) {
		int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
				 emitters[i]->name);

		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
	return buf;
}

struct extent_sink {
	FILE *out;
	const struct q2_emitter *em;
	const struct q2_emit_image *im;
	const struct q2_bitmap *bm;
	const struct q2_emit_opts *opts;
	size_t n;
};

static int on_extent(void *ctx, uint64_t start, uint64_t length)
{
	struct extent_sink *s = ctx;

	return s->em->x_extent(s->out, s->im, s->bm, s->n++, start, length,
			       s->opts) ? -2 : 0;
}

int q2_emit_extents(FILE *out, const struct q2_emitter *em,
		    const struct q2_reader *r, const struct q2_emit_image *im,
		    const struct q2_emit_opts *opts, struct q2_problems *problems)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(im->img);
	int failed = 0;
	size_t nth = 0;

	if (em->x_image_begin && em->x_image_begin(out, im, opts))
		failed = -1;
	for (uint32_t i = 0; bx && i < bx->n_bitmaps; i++) {
		const struct q2_bitmap *bm = &bx->bitmaps[i];
		struct extent_sink sink = { out, em, im, bm, opts, 0 };
		struct q2_error err;
		uint64_t dirty;
		int ret;

		if (!q2_emit_selected(im, i))
			continue;
		if (bm->flags & Q2_BME_FLAG_IN_USE)
			q2_problems_add(problems, Q2_SEV_WARNING, "bitmap-in-use",
					bm->entry_offset + 12, i,
					strdup("in use, so its data may be stale"));
		if (em->x_bitmap_begin && em->x_bitmap_begin(out, im, bm, nth, opts))
			failed = -1;
		ret = q2_extents_scan(r, im->img, i, on_extent, &sink, &dirty, &err);
		if (ret == -1) {
			char buf[512];

			q2_problems_add(problems, Q2_SEV_ERROR, q2_code_name(err.code),
					err.offset, i,
					strdup(q2_error_format(&err, buf, sizeof buf)));
		} else if (ret) {
			failed = -1;
		}
		if (em->x_bitmap_end && em->x_bitmap_end(out, bm, sink.n, dirty, opts))
			failed = -1;
		nth++;
	}
	if (em->x_image_end && em->x_image_end(out, im, nth, opts))
		failed = -1;
	return failed;
}
