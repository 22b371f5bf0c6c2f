/* The bounds-checked reader, from memory and from a real file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "reader.h"

/* q2_read's outcome as one number: READ_OK, or the code it failed with */
#define READ_OK (-1)

static int rd(const struct q2_reader *r, uint64_t off, void *buf, size_t len)
{
	enum q2_code code = Q2_C_NOMEM;
	int e = 0;

	return q2_read(r, off, buf, len, &code, &e) ? READ_OK : (int)code;
}

static int op(struct q2_reader *r, const char *path, int *e)
{
	enum q2_code code = Q2_C_NOMEM;

	return q2_reader_open(r, path, &code, e) ? READ_OK : (int)code;
}

static void test_memory_bounds(void **state)
{
	const uint8_t data[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
				   9, 10, 11, 12, 13, 14, 15, 16 };
	struct q2_reader r;
	uint8_t out[16];
	(void)state;

	q2_reader_from_memory(&r, data, sizeof data);
	assert_int_equal(r.size, 16);
	assert_int_equal(rd(&r, 0, out, 16), READ_OK);
	assert_memory_equal(out, data, 16);
	assert_int_equal(rd(&r, 12, out, 4), READ_OK);
	assert_int_equal(out[0], 13);
	assert_int_equal(rd(&r, 16, out, 0), READ_OK);
	assert_int_equal(rd(&r, 13, out, 4), Q2_C_TRUNCATED);
	/* nothing to read is nowhere: a zero-length read past the end
	 * succeeds (the caller's own bounds say where a structure may lie) */
	assert_int_equal(rd(&r, 17, out, 0), READ_OK);
	assert_false(q2_reader_fits(&r, 17, 0));
	/* off + len would wrap around: still refused */
	assert_int_equal(rd(&r, UINT64_MAX, out, 2), Q2_C_TRUNCATED);
	assert_false(q2_reader_fits(&r, 8, UINT64_MAX));
	assert_true(q2_reader_fits(&r, 8, 8));
	assert_false(q2_reader_fits(&r, 8, 9));
}

static void test_file(void **state)
{
	char path[] = "/tmp/qcow2dump-reader-XXXXXX";
	int fd = mkstemp(path);
	struct q2_reader r;
	uint8_t out[8];
	int e = 0;
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	assert_int_equal(op(&r, path, &e), READ_OK);
	assert_int_equal(r.size, 10);
	assert_int_equal(rd(&r, 6, out, 4), READ_OK);
	assert_memory_equal(out, "6789", 4);
	assert_int_equal(rd(&r, 7, out, 4), Q2_C_TRUNCATED);
	q2_reader_close(&r);
	unlink(path);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + (i >> 16));
}

/* Small reads come from a window of the file: every byte as in the file
 * wherever a read starts or ends against the window's edges, and big
 * reads around it */
static void test_window(void **state)
{
	char path[] = "/tmp/qcow2dump-reader-XXXXXX";
	int fd = mkstemp(path);
	const size_t size = 3 * Q2_WINDOW + 1000;
	uint8_t *data = malloc(size), *out = malloc(size), want[64];
	static const uint64_t offs[] = {
		0, 8, Q2_WINDOW - 3, Q2_WINDOW - 8, Q2_WINDOW, 5, Q2_WINDOW + 4095,
		2 * Q2_WINDOW - 1, 4096, 4095, 3 * Q2_WINDOW + 990, 12345, 0,
	};
	struct q2_reader r;
	int e = 0;
	(void)state;

	assert_true(fd >= 0 && data && out);
	for (size_t i = 0; i < size; i++)
		data[i] = pattern(i);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
	assert_int_equal(op(&r, path, &e), READ_OK);
	for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
		for (size_t len = 1; len <= 64; len *= 4) {
			uint64_t off = offs[k];

			if (off + len > size) {
				assert_int_equal(rd(&r, off, out, len), Q2_C_TRUNCATED);
				continue;
			}
			for (size_t i = 0; i < len; i++)
				want[i] = pattern(off + i);
			assert_int_equal(rd(&r, off, out, len), READ_OK);
			assert_memory_equal(out, want, len);
		}
		/* a read bigger than the window takes, between small ones */
		assert_int_equal(rd(&r, 100, out, Q2_WINDOW), READ_OK);
		assert_memory_equal(out, data + 100, Q2_WINDOW);
	}
	assert_int_equal(rd(&r, 0, out, size), READ_OK);
	assert_memory_equal(out, data, size);
	/* the file shrinks under the reader: a read past its new end is
	 * short, not garbage (the window holds only what was read) */
	assert_int_equal(rd(&r, 0, out, 8), READ_OK);
	assert_int_equal(truncate(path, Q2_WINDOW + 10), 0);
	assert_int_equal(rd(&r, 2 * Q2_WINDOW, out, 8), Q2_C_TRUNCATED);
	assert_int_equal(rd(&r, Q2_WINDOW + 6, out, 8), Q2_C_TRUNCATED);
	assert_int_equal(rd(&r, Q2_WINDOW + 2, out, 8), READ_OK);
	for (size_t i = 0; i < 8; i++)
		want[i] = pattern(Q2_WINDOW + 2 + i);
	assert_memory_equal(out, want, 8);
	q2_reader_close(&r);
	unlink(path);
	free(data);
	free(out);
}

static void test_open_errors(void **state)
{
	struct q2_reader r;
	int e = 0;
	(void)state;

	assert_int_equal(op(&r, "/nonexistent/x.qcow2", &e),
			 Q2_C_OPEN);
	assert_int_equal(e, ENOENT);
	assert_int_equal(op(&r, "/tmp", &e), Q2_C_NOT_A_FILE);
	assert_int_equal(e, EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_bounds),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
