/* The JSON and CSV emitters on images built in memory, against output
 * written out by hand from the interface contract. */
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

static char *render(const struct q2_format *f, const uint8_t *b, size_t len,
		    const struct q2_run_opts *opts)
{
	return render_image(f, b, len, opts, "img.qcow2");
}

static void test_json_bitmaps_compact(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_run_opts opts = { .view = Q2_VIEW_BITMAPS, .bitmap_table = true,
				     .compact = true, .n_images = 1 };
	char *got = render(&q2_format_json, b, len, &opts);
	(void)state;

	assert_string_equal(got,
		"{\"image\":\"img.qcow2\",\"locked\":false,\"bitmaps\":["
		"{\"name\":\"b1\",\"bitmap_table_offset\":1536,"
		"\"bitmap_table_size\":2,\"flags\":2,\"flag_names\":[\"auto\"],"
		"\"type\":1,\"granularity_bits\":16,\"granularity\":65536,"
		"\"name_size\":2,\"extra_data_size\":0,"
		/* b1's table is too small for the disk: QEMU refuses it */
		"\"usable\":false,\"state\":\"invalid\",\"reason\":\"table-too-small\","
		"\"bitmap_table\":["
		"{\"type\":\"serialized\",\"offset\":2048,\"reserved\":0},"
		"{\"type\":\"all-ones\",\"offset\":0,\"reserved\":0}]},"
		"{\"name\":\"bitmap-two\",\"bitmap_table_offset\":1552,"
		"\"bitmap_table_size\":1,\"flags\":7,\"flag_names\":"
		"[\"in_use\",\"auto\",\"extra_data_compatible\"],"
		"\"type\":1,\"granularity_bits\":19,\"granularity\":524288,"
		"\"name_size\":10,\"extra_data_size\":4,"
		"\"extra_data_hex\":\"a0a1a2a3\","
		"\"usable\":false,\"state\":\"invalid\",\"reason\":\"table-unaligned\","
		"\"bitmap_table\":["
		"{\"type\":\"invalid\",\"offset\":2560,\"reserved\":0}]}]}\n");
	free(got);
	free(b);
}

static void test_json_default_view(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	static char *const names[] = { "bitmap-two" };
	struct q2_run_opts opts = { .compact = true, .n_images = 1,
				    .names = names, .n_names = 1 };
	char *got = render(&q2_format_json, b, len, &opts);
	(void)state;

	/* bit 63 set: beyond jansson's signed integers, printed unsigned */
	assert_non_null(strstr(got, "\"incompatible_features\":9223372036854775809,"));
	assert_non_null(strstr(got, "\"incompatible_feature_names\":[\"dirty\",\"bit-63\"]"));
	assert_non_null(strstr(got, "\"compatible_feature_names\":[\"lazy_refcounts\"]"));
	assert_non_null(strstr(got, "\"autoclear_feature_names\":[\"bitmaps\"]"));
	assert_non_null(strstr(got, "\"header_length\":112,\"compression_type\":1,"));
	assert_non_null(strstr(got, "},\"backing_file\":\"base.qcow2\","));
	assert_non_null(strstr(got,
		"{\"name\":\"Backing format\",\"magic\":3799591626,\"length\":5,"
		"\"offset\":112,\"data_str\":\"'qcow2'\",\"data_hex\":\"71636f7732\","
		"\"string\":\"qcow2\"}"));
	assert_non_null(strstr(got,
		"\"features\":[{\"type\":2,\"type_name\":\"autoclear\",\"bit\":0,"
		"\"name\":\"bitmaps\"}]"));
	assert_non_null(strstr(got,
		"\"data\":{\"nb_bitmaps\":2,\"reserved32\":0,"
		"\"bitmap_directory_size\":72,\"bitmap_directory_offset\":1024,"
		"\"bitmap_directory\":[{\"name\":\"bitmap-two\","));
	/* -n left b1 out; no table without -t */
	assert_null(strstr(got, "\"name\":\"b1\""));
	assert_null(strstr(got, "bitmap_table\""));
	assert_null(strstr(got, "problems"));
	free(got);
	free(b);
}

static void test_json_indented_and_problems(void **state)
{
	uint8_t b[104] = { 0 };
	struct q2_run_opts opts = { .view = Q2_VIEW_EXTENSIONS, .n_images = 1 };
	char *got;
	(void)state;

	tb_header(b, 3, 16, 104);
	/* 80 bytes: the v3 header is cut */
	got = render(&q2_format_json, b, 80, &opts);
	assert_string_equal(got,
		"{\n"
		"  \"image\": \"img.qcow2\",\n"
		"  \"locked\": false,\n"
		"  \"header_extensions\": [],\n"
		"  \"problems\": [\n"
		"    {\n"
		"      \"severity\": \"error\",\n"
		"      \"code\": \"truncated\",\n"
		"      \"message\": \"truncated: the file ends inside this "
		"structure (where: header, offset 0x0)\",\n"
		"      \"offset\": 0\n"
		"    }\n"
		"  ]\n"
		"}\n");
	free(got);
}

static void test_json_invalid_utf8_name(void **state)
{
	uint8_t b[2048] = { 0 };
	struct q2_run_opts opts = { .view = Q2_VIEW_BITMAPS, .compact = true };
	char *got;
	(void)state;

	tb_header(b, 3, 9, 104);
	tb_bitmaps_ext(b, 104, 1, 32, 1024);
	tb_dir_entry(b, 1024, 0, 0, 0, 70, "a\xff\"", 3, 0);
	got = render(&q2_format_json, b, sizeof b, &opts);
	/* U+FFFD for the bad byte, the quote escaped, the bytes in hex;
	 * 2^70 does not fit: granularity null */
	assert_non_null(strstr(got,
		"{\"name\":\"a\xef\xbf\xbd\\\"\",\"name_hex\":\"61ff22\","));
	assert_non_null(strstr(got, "\"granularity_bits\":70,\"granularity\":null,"));
	free(got);
}

static void test_csv_bitmaps(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_run_opts opts = { .n_images = 1 };
	char *got = render(&q2_format_csv, b, len, &opts);
	(void)state;

	assert_string_equal(got,
		"image,name,bitmap_table_offset,bitmap_table_size,flags,"
		"flag_names,type,granularity_bits,granularity,name_size,"
		"extra_data_size,usable,state,reason\n"
		"img.qcow2,b1,1536,2,2,auto,1,16,65536,2,0,false,invalid,"
		"table-too-small\n"
		"img.qcow2,bitmap-two,1552,1,7,in_use auto extra_data_compatible,"
		"1,19,524288,10,4,false,invalid,table-unaligned\n");
	free(got);
	free(b);
}

static void test_csv_tables_and_extensions(void **state)
{
	size_t len;
	uint8_t *b = tb_standard(&len);
	struct q2_run_opts opts = { .bitmap_table = true };
	char *got = render(&q2_format_csv, b, len, &opts);
	(void)state;

	assert_string_equal(got,
		"image,bitmap,index,type,offset,reserved\n"
		"img.qcow2,b1,0,serialized,2048,0\n"
		"img.qcow2,b1,1,all-ones,0,0\n"
		"img.qcow2,bitmap-two,0,invalid,2560,0\n");
	free(got);
	opts = (struct q2_run_opts){ .view = Q2_VIEW_EXTENSIONS };
	got = render(&q2_format_csv, b, len, &opts);
	assert_string_equal(got,
		"image,index,name,magic,length,data\n"
		"img.qcow2,0,Backing format,3799591626,5,qcow2\n"
		"img.qcow2,1,Feature table,1745090647,48,02006269746d617073"
		/* the name's 39 bytes of NUL padding */
		"0000000000000000000000000000000000000000"
		"00000000000000000000000000000000000000"
		"\n"
		"img.qcow2,2,Bitmaps,595929205,24,000000020000000000000000000000"
		"480000000000000400\n"
		"img.qcow2,3,Data file,1145132097,8,data.raw\n");
	free(got);
	free(b);
}

static void test_csv_quoting(void **state)
{
	static const struct {
		const char *name;
		const char *field;
	} cases[] = {
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" },
		{ "=1+1", "\"=1+1\"" },
		{ "@x", "\"@x\"" },
		{ " pad", "\" pad\"" },
		{ "mid space", "mid space" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t b[2048] = { 0 };
		struct q2_run_opts opts = { 0 };
		char want[128];
		char *got;

		tb_header(b, 3, 9, 104);
		tb_bitmaps_ext(b, 104, 1, 64, 1024);
		tb_dir_entry(b, 1024, 0, 0, 0, 16, cases[i].name,
			     strlen(cases[i].name), 0);
		got = render(&q2_format_csv, b, sizeof b, &opts);
		snprintf(want, sizeof want, "\nimg.qcow2,%s,0,0,0,,1,16,65536,%zu,0,false,",
			 cases[i].field, strlen(cases[i].name));
		assert_non_null(strstr(got, want));
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_bitmaps_compact),
		cmocka_unit_test(test_json_default_view),
		cmocka_unit_test(test_json_indented_and_problems),
		cmocka_unit_test(test_json_invalid_utf8_name),
		cmocka_unit_test(test_csv_bitmaps),
		cmocka_unit_test(test_csv_tables_and_extensions),
		cmocka_unit_test(test_csv_quoting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
