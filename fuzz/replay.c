/* Runs the fuzz target over files, without libFuzzer: the regression
 * inputs and the seed corpus in 'make check', under whatever sanitizers
 * the build has. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, n;

		if (!f) {
			perror(argv[i]);
			failed = 1;
			continue;
		}
		do {
			if (len == cap) {
				uint8_t *grown = realloc(buf, cap = cap ? 2 * cap : 65536);

				if (!grown) {
					free(buf);
					fclose(f);
					return 2;
				}
				buf = grown;
			}
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		printf("ok - %s\n", argv[i]);
	}
	return failed;
}
