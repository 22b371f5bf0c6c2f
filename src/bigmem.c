#include "config.h"

#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* The sanitizers watch the edges of what malloc gives, not of a
 * mapping: under them every array comes from calloc. */
#if defined(__SANITIZE_ADDRESS__)
#define USE_MAPPINGS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_MAPPINGS 0
#endif
#endif
#ifndef USE_MAPPINGS
#define USE_MAPPINGS 1
#endif

/* In front of what the caller gets: how to give it back.  Its size keeps
 * the caller's array aligned for any type. */
struct big_head {
	void *map;       /* NULL: the block came from calloc */
	size_t map_len;
	max_align_t align_;
};

void *q2_big_alloc(size_t size)
{
	size_t total, len;
	struct big_head *h;
	uint8_t *map, *start;

	if (size > SIZE_MAX - sizeof *h - 2 * HUGE_PAGE)
		return NULL;
	total = sizeof *h + size;
	if (!USE_MAPPINGS || total < HUGE_PAGE) {
		h = calloc(1, total);
		if (!h)
			return NULL;
		h->map = NULL;
		return h + 1;
	}
	/* one huge page more, to start on a huge page's boundary */
	len = (total + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE + HUGE_PAGE;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	start = map + (HUGE_PAGE - (uintptr_t)map % HUGE_PAGE) % HUGE_PAGE;
	/* advice only: without it the pages are small ones */
	(void)madvise(start, len - (size_t)(start - map), MADV_HUGEPAGE);
	h = (struct big_head *)(void *)start;
	h->map = map;
	h->map_len = len;
	return h + 1;
}

void q2_big_free(void *p)
{
	struct big_head *h;

	if (!p)
		return;
	h = (struct big_head *)p - 1;
	if (h->map)
		munmap(h->map, h->map_len);
	else
		free(h);
}
