/* q2_refcount_at, every refcount width QEMU writes (refcount_order 0 to
 * 6): a refcount block is filled as QEMU lays it out (docs/interop/
 * qcow2.txt: refcount i of a block takes bits i * width to
 * (i + 1) * width - 1, and below 8 bits a byte's low bits come first,
 * as block/qcow2-refcount.c's get_refcount_ro0..ro2 read them; from 8
 * bits up, big-endian), with a different value at every index, and each
 * index is read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ondisk.h"
#include "refcount.h"

#define BLOCK 4096u  /* bytes: a refcount block of 4 KiB clusters */

/* a value of width bits for index i, different for neighbours and using
 * the top and bottom bits of the width */
static uint64_t value_for(unsigned width, uint64_t i)
{
	uint64_t v = (i * 0x9e3779b97f4a7c15ull) ^ (i << 7) ^ (i >> 3);

	return width == 64 ? v : v & ((1ull << width) - 1);
}

/* stores v as refcount i of the block, QEMU's layout, bit by bit */
static void put(uint8_t *block, unsigned width, uint64_t i, uint64_t v)
{
	for (unsigned b = 0; b < width; b++) {
		/* bit b of the value (b = 0 the least significant) */
		uint64_t bit = width >= 8
			? i * width + (width - 8) - (b / 8) * 8 + b % 8
			: i * width + b;
		uint8_t mask = (uint8_t)(1u << (bit % 8));

		if (v >> b & 1)
			block[bit / 8] |= mask;
		else
			block[bit / 8] &= (uint8_t)~mask;
	}
}

static void check_order(unsigned order, uint8_t fill)
{
	unsigned width = 1u << order;
	uint64_t n = (uint64_t)BLOCK * 8 / width;
	uint8_t *block = malloc(BLOCK);

	assert_non_null(block);
	memset(block, fill, BLOCK);
	for (uint64_t i = 0; i < n; i++)
		put(block, width, i, value_for(width, i));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t got = q2_refcount_at(block, order, i);

		if (got != value_for(width, i))
			fail_msg("refcount_order %u, index %llu: got %llu, want %llu",
				 order, (unsigned long long)i, (unsigned long long)got,
				 (unsigned long long)value_for(width, i));
	}
	free(block);
}

static void test_every_width(void **state)
{
	(void)state;
	for (unsigned order = 0; order <= 6; order++) {
		check_order(order, 0x00);
		check_order(order, 0xff);
	}
}

/* The layout by hand, for the widths below a byte and 16 bits, so that
 * put() above is not the only reading of the spec. */
static void test_by_hand(void **state)
{
	uint8_t b[8] = { 0 };

	(void)state;
	/* 1 bit: index 0 is bit 0 of byte 0, index 9 bit 1 of byte 1 */
	b[0] = 0x01;
	b[1] = 0x02;
	assert_int_equal(q2_refcount_at(b, 0, 0), 1);
	for (int i = 1; i < 9; i++)
		assert_int_equal(q2_refcount_at(b, 0, i), 0);
	assert_int_equal(q2_refcount_at(b, 0, 9), 1);
	assert_int_equal(q2_refcount_at(b, 0, 7), 0);
	b[0] = 0x80;
	assert_int_equal(q2_refcount_at(b, 0, 7), 1);
	assert_int_equal(q2_refcount_at(b, 0, 0), 0);
	/* 2 bits: 0xe4 = 11 10 01 00 holds 0, 1, 2, 3 from index 0 up */
	b[0] = 0xe4;
	for (int i = 0; i < 4; i++)
		assert_int_equal(q2_refcount_at(b, 1, i), i);
	/* 4 bits: 0x5a holds 0xa at index 0, 0x5 at index 1 */
	b[0] = 0x5a;
	b[1] = 0x3c;
	assert_int_equal(q2_refcount_at(b, 2, 0), 0xa);
	assert_int_equal(q2_refcount_at(b, 2, 1), 0x5);
	assert_int_equal(q2_refcount_at(b, 2, 2), 0xc);
	assert_int_equal(q2_refcount_at(b, 2, 3), 0x3);
	/* 8 and 16 bits, big-endian */
	assert_int_equal(q2_refcount_at(b, 3, 1), 0x3c);
	assert_int_equal(q2_refcount_at(b, 4, 0), 0x5a3c);
	memcpy(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(q2_refcount_at(b, 5, 1), 0x05060708);
	assert_true(q2_refcount_at(b, 6, 0) == 0x0102030405060708ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_width),
		cmocka_unit_test(test_by_hand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
