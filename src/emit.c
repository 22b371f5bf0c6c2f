#include "config.h"

#include "emit.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static const struct q2_format *const formats[] = {
	&q2_format_text,
	&q2_format_json,
	&q2_format_csv,
};

const struct q2_format *q2_format_find(const char *name)
{
	for (size_t i = 0; i < Q2_ARRAY_SIZE(formats); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

char *q2_format_names(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < Q2_ARRAY_SIZE(formats); i++) {
		int n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
				 formats[i]->name);

		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
	return buf;
}
