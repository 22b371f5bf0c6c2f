/* UTF-8 validation and terminal-safe output of untrusted names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

#define U(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_seq_len(void **state)
{
	(void)state;
	assert_int_equal(utf8_seq_len(U("a")), 1);
	assert_int_equal(utf8_seq_len(U("\xc3\xa9")), 2);        /* é */
	assert_int_equal(utf8_seq_len(U("\xe2\x82\xac")), 3);    /* € */
	assert_int_equal(utf8_seq_len(U("\xf0\x9f\x98\x80")), 4);
	assert_int_equal(utf8_seq_len(U("\xc0\x80")), 0);        /* overlong */
	assert_int_equal(utf8_seq_len(U("\xe0\x80\x80")), 0);    /* overlong */
	assert_int_equal(utf8_seq_len(U("\xed\xa0\x80")), 0);    /* surrogate */
	assert_int_equal(utf8_seq_len(U("\xf4\x90\x80\x80")), 0); /* > 10FFFF */
	assert_int_equal(utf8_seq_len(U("\xc3")), 0);            /* cut */
	assert_int_equal(utf8_seq_len(U("\xc3\x41")), 0);
	assert_int_equal(utf8_seq_len(U("\xff")), 0);
	assert_true(utf8_valid(U("plain \xc3\xa9t\xc3\xa9")));
	assert_false(utf8_valid(U("bad \xff")));
}

static char *render(const char *s, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	fput_terminal_safe(f, (const uint8_t *)s, n);
	fclose(f);
	return buf;
}

static void test_terminal_safe(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ "b1", 2, "b1" },
		{ "a b\tc\\d", 7, "a b\tc\\d" },
		{ "\x1b[31mred", 8, "\\x1b[31mred" },
		{ "line\nbreak", 10, "line\\x0abreak" },
		{ "\x7f", 1, "\\x7f" },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "\xc2\x9b" "2J", 4, "\\xc2\\x9b2J" },      /* C1 CSI */
		{ "\xc2\xa0", 2, "\xc2\xa0" },                /* NBSP is text */
		{ "x\xff\xfey", 4, "x\\xff\\xfey" },
		{ "\xe2\x82", 2, "\\xe2\\x82" },
		{ "nul\0in", 6, "nul\\x00in" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = render(cases[i].in, cases[i].n);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_len),
		cmocka_unit_test(test_terminal_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
