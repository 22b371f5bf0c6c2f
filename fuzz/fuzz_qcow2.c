/* libFuzzer target: arbitrary bytes as an image, through the decoder,
 * every check and every emitter in every view.  Built by fuzz/run.sh with
 * clang; fuzz/replay.c runs the same function over saved inputs in
 * 'make check'. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "emit.h"
#include "qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	static const struct q2_emitter *const emitters[] = {
		&q2_emitter_text, &q2_emitter_json, &q2_emitter_csv,
	};
	static const enum q2_view views[] = {
		Q2_VIEW_DEFAULT, Q2_VIEW_EXTENSIONS, Q2_VIEW_BITMAPS, Q2_VIEW_CHECK,
	};
	struct q2_decode_opts dopts = { .load_tables = true };
	struct q2_problems problems = { 0 };
	struct q2_reader r;
	struct q2_image img;
	struct q2_emit_image im = { .path = "fuzz", .img = &img,
				    .problems = &problems };

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (!sink)
		return 0;
	q2_reader_from_memory(&r, data, size);
	q2_decode(&r, &dopts, &img);
	q2_problems_add_errors(&problems, &img);
	q2_check(&img, &problems);
	for (size_t e = 0; e < sizeof emitters / sizeof emitters[0]; e++)
		for (size_t v = 0; v < sizeof views / sizeof views[0]; v++)
			for (int t = 0; t < 2; t++) {
				struct q2_emit_opts opts = {
					.view = views[v], .bitmap_table = t,
					.compact = t, .n_images = 1 + t,
				};

				if (emitters[e]->begin)
					emitters[e]->begin(sink, &opts);
				emitters[e]->image(sink, &im, &opts);
				if (emitters[e]->end)
					emitters[e]->end(sink, &opts);
			}
	for (size_t e = 0; e < sizeof emitters / sizeof emitters[0]; e++) {
		struct q2_emit_opts opts = { .view = Q2_VIEW_EXTENTS, .n_images = 2 };

		q2_emit_extents(sink, emitters[e], &r, &im, &opts, &problems);
	}
	q2_problems_free(&problems);
	q2_image_free(&img);
	return 0;
}
