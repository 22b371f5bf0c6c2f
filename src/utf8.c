#include "config.h"

#include "utf8.h"

size_t utf8_seq_len(const uint8_t *p, size_t n)
{
	uint8_t b = p[0];
	uint8_t lo = 0x80, hi = 0xbf;
	size_t len;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef)
		len = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		len = 4;
	else
		return 0;
	/* The second byte's range rules out overlongs and surrogates. */
	if (b == 0xe0)
		lo = 0xa0;
	else if (b == 0xed)
		hi = 0x9f;
	else if (b == 0xf0)
		lo = 0x90;
	else if (b == 0xf4)
		hi = 0x8f;
	if (len > n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

bool utf8_valid(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq_len(p + i, n - i);

		if (!len)
			return false;
		i += len;
	}
	return true;
}

static bool terminal_shows(const uint8_t *p, size_t len)
{
	if (len == 1)
		return p[0] == '\t' || (p[0] >= 0x20 && p[0] < 0x7f);
	/* U+0080..U+009F are the C1 controls (0xc2 0x80..0x9f) */
	return len > 1 && !(p[0] == 0xc2 && p[1] < 0xa0);
}

size_t utf8_terminal_run(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t len = utf8_seq_len(p + i, n - i);

		if (!terminal_shows(p + i, len))
			break;
		i += len;
	}
	return i;
}

void fput_terminal_safe(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t run = utf8_terminal_run(p + i, n - i);

		if (run) {
			fwrite(p + i, 1, run, out);
			i += run;
		} else {
			fprintf(out, "\\x%02x", p[i]);
			i++;
		}
	}
}
