#include "config.h"

#include "emit.h"

#include <string.h>

static const struct q2_emitter *const emitters[] = {
	&q2_emitter_text,
	&q2_emitter_json,
	&q2_emitter_csv,
};

const struct q2_emitter *q2_emitter_find(const char *name)
{
	for (size_t i = 0; i < sizeof emitters / sizeof emitters[0]; i++)
		if (strcmp(emitters[i]->name, name) == 0)
			return emitters[i];
	return NULL;
}

const char *q2_emitter_names(void)
{
	return "text, json, csv";
}
