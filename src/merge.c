#include "config.h"

#include "merge.h"

#include <stdbool.h>
#include <stdlib.h>

/* An input and the range at its head. */
struct head {
	struct q2_extent_iter it;
	bool live;             /* a range is at the head */
	uint64_t start, end;
};

/* Moves h to its next range below size; -1 when it failed. */
static int advance(struct head *h, uint64_t size)
{
	uint64_t start, length;
	int got = q2_extent_iter_next(&h->it, &start, &length);

	h->live = got > 0 && start < size;
	if (!h->live)
		return got < 0 ? -1 : 0;
	h->start = start;
	h->end = length > size - start ? size : start + length;
	return 0;
}

int q2_merge_scan(const struct q2_merge_input *in, size_t n, uint64_t size,
		  q2_extent_fn fn, void *ctx, uint64_t *dirty_bytes,
		  struct q2_problems *nomem)
{
	struct head *heads;
	bool open = false;
	uint64_t cur_start = 0, cur_end = 0;
	int ret = 0;

	*dirty_bytes = 0;
	heads = calloc(n ? n : 1, sizeof *heads);
	if (!heads) {
		q2_problems_add(nomem, Q2_C_NOMEM, 0, Q2_NO_INDEX, Q2_FROM_DECODE,
				NULL);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (q2_extent_iter_init(&heads[k].it, in[k].r, in[k].img, in[k].idx,
					in[k].problems, in[k].seen) < 0 ||
		    advance(&heads[k], size) < 0)
			ret = -1;
	while (ret == 0) {
		struct head *min = NULL;

		/* the head that starts first; layers are few */
		for (size_t k = 0; k < n; k++)
			if (heads[k].live && (!min || heads[k].start < min->start))
				min = &heads[k];
		if (!min)
			break;
		if (open && min->start <= cur_end) {
			if (min->end > cur_end)
				cur_end = min->end;
		} else {
			if (open) {
				*dirty_bytes += cur_end - cur_start;
				ret = fn(ctx, cur_start, cur_end - cur_start);
			}
			open = true;
			cur_start = min->start;
			cur_end = min->end;
		}
		if (ret == 0 && advance(min, size) < 0)
			ret = -1;
	}
	if (ret == 0 && open) {
		*dirty_bytes += cur_end - cur_start;
		ret = fn(ctx, cur_start, cur_end - cur_start);
	}
	for (size_t k = 0; k < n; k++)
		q2_extent_iter_finish(&heads[k].it);
	free(heads);
	return ret;
}
