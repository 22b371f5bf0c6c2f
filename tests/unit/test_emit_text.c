/* The text emitter against output written out by hand from qcow2.py's
 * format: labels in 25 columns, Python's list and hex notation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "emit.h"
#include "render.h"
#include "image_builder.h"

static const char header_part[] =
	"magic                     0x514649fb\n"
	"version                   3\n"
	"backing_file_offset       0x100\n"
	"backing_file_size         0xa\n"
	"cluster_bits              9\n"
	"size                      4886718345\n"
	"crypt_method              0\n"
	"l1_size                   7\n"
	"l1_table_offset           0x30000\n"
	"refcount_table_offset     0x10000\n"
	"refcount_table_clusters   1\n"
	"nb_snapshots              2\n"
	"snapshot_offset           0x50000\n"
	"incompatible_features     [0, 63]\n"
	"compatible_features       [0]\n"
	"autoclear_features        [0]\n"
	"refcount_order            5\n"
	"header_length             112\n"
	"\n";

static const char exts_head[] =
	"Header extension:\n"
	"magic                     0xe2792aca (Backing format)\n"
	"length                    5\n"
	"data                      'qcow2'\n"
	"\n"
	"Header extension:\n"
	"magic                     0x6803f857 (Feature table)\n"
	"length                    48\n"
	"data                      <binary>\n"
	"\n"
	"Header extension:\n"
	"magic                     0x23852875 (Bitmaps)\n"
	"length                    24\n"
	"nb_bitmaps                2\n"
	"reserved32                0\n"
	"bitmap_directory_size     0x48\n"
	"bitmap_directory_offset   0x400\n"
	"\n"
	"Bitmap name               b1\n"
	"bitmap_table_offset       0x600\n"
	"bitmap_table_size         2\n"
	"flags                     0x2 (['auto'])\n"
	"type                      1\n"
	"granularity_bits          16\n"
	"name_size                 2\n"
	"extra_data_size           0\n";

static const char b1_table[] =
	"Bitmap table   type            size         offset\n"
	"0              serialized      512          2048\n"
	"1              all-ones        0            0\n";

static const char b2_entry[] =
	"\n"
	"Bitmap name               bitmap-two\n"
	"bitmap_table_offset       0x610\n"
	"bitmap_table_size         1\n"
	"flags                     0x7 (['in-use', 'auto', 'bit-2'])\n"
	"type                      1\n"
	"granularity_bits          19\n"
	"name_size                 10\n"
	"extra_data_size           4\n";

static const char b2_table[] =
	"Bitmap table   type            size         offset\n"
	"0              invalid         0            2560\n";

static const char exts_tail[] =
	"\n"
	"Header extension:\n"
	"magic                     0x44415441 (Data file)\n"
	"length                    8\n"
	"data                      'data.raw'\n"
	"\n";

static char *render(const uint8_t *b, size_t len, enum q2_view_id view,
		    bool table, size_t n_images)
{
	struct q2_run_opts opts = { .view = view, .bitmap_table = table,
				    .n_images = n_images };

	return render_image(&q2_format_text, b, len, &opts, "img.qcow2");
}

static char *join(const char *const *parts, size_t n)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	for (size_t i = 0; i < n; i++)
		fputs(parts[i], f);
	fclose(f);
	return out;
}

static void check(const char *got, const char *const *parts, size_t n)
{
	char *want = join(parts, n);

	assert_string_equal(got, want);
	free(want);
}

static void test_dump_header(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	char *got = render(b, len, Q2_VIEW_DEFAULT, false, 1);
	const char *const want[] = { header_part, exts_head, b2_entry,
				     exts_tail };
	(void)state;

	check(got, want, 4);
	free(got);
	free(b);
}

static void test_extensions_with_tables(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	char *got = render(b, len, Q2_VIEW_EXTENSIONS, true, 1);
	const char *const want[] = { exts_head, b1_table, b2_entry, b2_table,
				     exts_tail };
	(void)state;

	check(got, want, 5);
	free(got);
	free(b);
}

static void test_bitmaps_view_with_selection(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	static char *const names[] = { "b1" };
	struct q2_run_opts opts = { .view = Q2_VIEW_BITMAPS, .bitmap_table = true,
				    .names = names, .n_names = 1 };
	char *out = render_image(&q2_format_text, b, len, &opts, "x");
	/* b1's entry is the tail of exts_head */
	const char *const want[] = { strstr(exts_head, "Bitmap name"),
				     b1_table, "\n" };
	(void)state;

	check(out, want, 3);
	free(out);
	free(b);
}

static void test_several_images_are_labelled(void **state)
{
	uint8_t b[1024] = { 0 };
	char *got;
	(void)state;

	tb_header(b, 3, 9, 104);
	got = render(b, sizeof b, Q2_VIEW_EXTENSIONS, false, 2);
	assert_string_equal(got, "==> img.qcow2 <==\n");
	free(got);
}

static void test_untrusted_text(void **state)
{
	uint8_t b[2048] = { 0 };
	size_t pos;
	char *got;
	(void)state;

	tb_header(b, 3, 9, 104);
	/* Python's string.printable includes \n, so qcow2.py quotes it;
	 * an escape byte makes it <binary>; empty data is '' */
	pos = tb_ext(b, 104, 0x11111111, "a\nb", 3);
	pos = tb_ext(b, pos, 0x22222222, "\x1b[2J", 4);
	pos = tb_ext(b, pos, 0x33333333, "", 0);
	pos = tb_bitmaps_ext(b, pos, 1, 32, 1024);
	tb_dir_entry(b, 1024, 0, 0, 0x80000000, 9, "\x1b]0;x", 5, 0);
	got = render(b, sizeof b, Q2_VIEW_EXTENSIONS, false, 1);
	assert_non_null(strstr(got, "data                      'a\nb'\n"));
	assert_non_null(strstr(got, "magic                     0x22222222 "
				    "(<unknown>)\nlength                    4\n"
				    "data                      <binary>\n"));
	assert_non_null(strstr(got, "data                      ''\n"));
	assert_non_null(strstr(got, "Bitmap name               \\x1b]0;x\n"));
	assert_non_null(strstr(got, "flags                     0x80000000 "
				    "(['bit-31'])\n"));
	assert_null(strchr(got, '\x1b'));
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_header),
		cmocka_unit_test(test_extensions_with_tables),
		cmocka_unit_test(test_bitmaps_view_with_selection),
		cmocka_unit_test(test_several_images_are_labelled),
		cmocka_unit_test(test_untrusted_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
