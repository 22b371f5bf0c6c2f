/* q2_big_alloc and q2_big_free, held to what bigmem.h promises: size
 * bytes, zeroed, aligned for any type, usable to the last byte; and a
 * free that gives back what was taken.
 *
 * Large blocks come from a mapping that bigmem.c aligns on a 2 MiB
 * boundary itself, with a huge page of slack.  This kernel places large
 * anonymous mappings on such a boundary already, which would leave the
 * slack untested; so (outside the sanitizer build, which maps nothing)
 * this file puts its own mmap and munmap in front of libc's: each
 * mapping is placed SHIFT bytes past a 2 MiB boundary, inside a
 * reservation whose rest is PROT_NONE, so that a byte used beyond what
 * was mapped faults; and each munmap is recorded, so that a free can be
 * checked against the mapping it must give back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "bigmem.h"

#define HUGE ((size_t)2 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define MAPPINGS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAPPINGS 0
#endif
#endif
#ifndef MAPPINGS
#define MAPPINGS 1
#endif

#if MAPPINGS
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int raw_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

/* -1: mmap as the kernel places it; else the offset from a 2 MiB
 * boundary of every anonymous mapping made */
static long shift = -1;
static struct {
	char *addr;        /* the mapping given */
	size_t len;
	char *resv;        /* the reservation around it */
	size_t resv_len;
	int unmapped;      /* munmap calls that matched it exactly */
} maps[64];
static size_t n_maps;
static size_t stray_munmaps;

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	char *resv, *at;
	size_t resv_len;

	if (shift < 0 || addr || !(flags & MAP_ANONYMOUS) ||
	    n_maps == sizeof maps / sizeof maps[0])
		return raw_mmap(addr, len, prot, flags, fd, off);
	resv_len = len + 2 * HUGE;
	resv = raw_mmap(NULL, resv_len, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		return MAP_FAILED;
	at = (char *)(((uintptr_t)resv + HUGE - 1) / HUGE * HUGE) + shift;
	if (raw_mmap(at, len, prot, flags | MAP_FIXED, fd, off) != at) {
		raw_munmap(resv, resv_len);
		return MAP_FAILED;
	}
	maps[n_maps].addr = at;
	maps[n_maps].len = len;
	maps[n_maps].resv = resv;
	maps[n_maps].resv_len = resv_len;
	maps[n_maps].unmapped = 0;
	n_maps++;
	return at;
}

int munmap(void *addr, size_t len)
{
	size_t i;

	for (i = 0; i < n_maps; i++)
		if (maps[i].addr == addr && maps[i].len == len) {
			maps[i].unmapped++;
			break;
		}
	if (i == n_maps && shift >= 0)
		stray_munmaps++;
	return raw_munmap(addr, len);
}

/* gives back the reservations (after each case has checked its maps) */
static void drop_maps(void)
{
	for (size_t i = 0; i < n_maps; i++)
		raw_munmap(maps[i].resv, maps[i].resv_len);
	n_maps = 0;
	stray_munmaps = 0;
}
#endif

static const size_t sizes[] = {
	0, 1, 7, 8, 15, 16, 17, 24, 40, 47, 48, 49, 4095, 4096, 4097,
	65535, 65536, 65537,
	/* around one huge page, with and without bigmem's own header */
	HUGE - 4097, HUGE - 256, HUGE - 64, HUGE - 49, HUGE - 48, HUGE - 47,
	HUGE - 33, HUGE - 32, HUGE - 16, HUGE - 1, HUGE, HUGE + 1,
	HUGE + 4096,
	/* a whole number of huge pages, and just under and over */
	2 * HUGE - 48, 2 * HUGE - 1, 2 * HUGE, 3 * HUGE - 47, 3 * HUGE + 12345,
	(size_t)5 << 20,
};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

/* one block of size: aligned, zeroed, every byte written and read */
static void use_block(size_t size)
{
	unsigned char *p = q2_big_alloc(size);

	assert_non_null(p);
	if ((uintptr_t)p % _Alignof(max_align_t))
		fail_msg("size %zu: %p is not aligned for max_align_t", size, (void *)p);
	for (size_t i = 0; i < size; i++)
		if (p[i])
			fail_msg("size %zu: byte %zu is not zero", size, i);
	memset(p, 0xa5, size);
	if (size) {
		p[size - 1] = 0x5a;
		assert_int_equal(p[size - 1], 0x5a);
		assert_int_equal(p[0], size == 1 ? 0x5a : 0xa5);
	}
	q2_big_free(p);
}

static void test_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SIZES; i++)
		use_block(sizes[i]);
	q2_big_free(NULL);
}

/* A block given back and taken again is zeroed again, and two blocks
 * alive at once do not share bytes. */
static void test_reuse_zeroed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_SIZES; i++) {
		size_t size = sizes[i];
		unsigned char *a, *b;

		if (!size)
			continue;
		a = q2_big_alloc(size);
		b = q2_big_alloc(size);
		assert_non_null(a);
		assert_non_null(b);
		memset(a, 0xff, size);
		for (size_t k = 0; k < size; k++)
			if (b[k])
				fail_msg("size %zu: a write to one block shows in another", size);
		q2_big_free(a);
		a = q2_big_alloc(size);
		assert_non_null(a);
		for (size_t k = 0; k < size; k++)
			if (a[k])
				fail_msg("size %zu: byte %zu of a block taken again is not zero",
					 size, k);
		q2_big_free(a);
		q2_big_free(b);
	}
}

#if MAPPINGS
/* Mappings that are not on a 2 MiB boundary: every block of every size
 * still usable to its last byte (the slack), aligned, and each free
 * gives back exactly the mapping it took. */
static void test_misaligned_mappings(void **state)
{
	static const long shifts[] = { 0, 4096, 8192, (long)HUGE / 2,
				       (long)HUGE - 8192, (long)HUGE - 4096 };

	(void)state;
	for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
		shift = shifts[s];
		for (size_t i = 0; i < N_SIZES; i++) {
			size_t before = n_maps;

			use_block(sizes[i]);
			for (size_t k = before; k < n_maps; k++)
				if (maps[k].unmapped != 1)
					fail_msg("shift %ld, size %zu: the mapping of %zu bytes "
						 "was unmapped %d times", shift, sizes[i],
						 maps[k].len, maps[k].unmapped);
			if (stray_munmaps)
				fail_msg("shift %ld, size %zu: munmap of what was not mapped",
					 shift, sizes[i]);
			drop_maps();
		}
		shift = -1;
	}
}

/* A block of at least a huge page is a mapping of its own (what the
 * page-fault saving is for), and a smaller one is not. */
static void test_big_blocks_are_mappings(void **state)
{
	(void)state;
	shift = 0;
	for (size_t i = 0; i < N_SIZES; i++) {
		void *p = q2_big_alloc(sizes[i]);
		size_t made = n_maps;

		assert_non_null(p);
		q2_big_free(p);
		if (sizes[i] >= HUGE && made != 1)
			fail_msg("size %zu: %zu mappings, want 1", sizes[i], made);
		drop_maps();
	}
	shift = -1;
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_reuse_zeroed),
#if MAPPINGS
		cmocka_unit_test(test_misaligned_mappings),
		cmocka_unit_test(test_big_blocks_are_mappings),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
