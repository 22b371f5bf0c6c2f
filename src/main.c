/* qcow2dump: show what is inside a qcow2 image, read-only and lock-free.
 * This file alone talks to the user: it parses options, runs the decoder
 * and one emitter per image, reports errors and picks the exit status. */
#include "config.h"

#include <argp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "qcow2.h"
#include "reader.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_PROBLEMS = 1,
	EXIT_UNREADABLE = 2,
	EXIT_USAGE = 64,
};

struct cli {
	struct q2_emit_opts emit;
	const struct q2_emitter *emitter;
	char **images;
	size_t n_images;
};

const char *argp_program_version = PACKAGE_STRING;

static const char doc[] =
	"Show the header, header extensions and persistent dirty bitmaps of "
	"QCOW2 images, read-only and without taking the image lock.\n\n"
	"With no option the output is that of QEMU's qcow2.py dump-header."
	"\v"
	"Exit status: 0 every image decoded; 2 an image could not be read or "
	"decoded (the others are still shown); 64 usage error.\n\n"
	"Examples:\n"
	"  qcow2dump disk.qcow2         header and extensions\n"
	"  qcow2dump -e -t disk.qcow2   extensions, bitmaps with their tables";

static const struct argp_option options[] = {
	{ "extensions", 'e', NULL, 0,
	  "Show only the header extensions (qcow2.py dump-header-exts)", 1 },
	{ "bitmap-table", 't', NULL, 0,
	  "Also show each bitmap's table entries", 1 },
	{ 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct cli *cli = state->input;

	switch (key) {
	case 'e':
		cli->emit.view = Q2_VIEW_EXTENSIONS;
		break;
	case 't':
		cli->emit.bitmap_table = true;
		break;
	case ARGP_KEY_ARG:
		(void)arg;
		cli->images = &state->argv[state->next - 1];
		cli->n_images = (size_t)(state->argc - state->next + 1);
		state->next = state->argc;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no IMAGE given");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse_opt, "IMAGE...", doc,
				  NULL, NULL, NULL };

/* Decodes and renders one image; returns its exit status. */
static int dump_one(const struct cli *cli, size_t index)
{
	const char *path = cli->images[index];
	struct q2_decode_opts dopts = { .load_tables = cli->emit.bitmap_table };
	struct q2_reader reader;
	struct q2_image img;
	int sys_errno = 0;
	int status = EXIT_OK;
	enum q2_code code;

	code = q2_reader_open(&reader, path, &sys_errno);
	if (code != Q2_OK) {
		fprintf(stderr, "%s: %s: %s: %s\n", program_invocation_short_name,
			path, q2_code_message(code), strerror(sys_errno));
		return EXIT_UNREADABLE;
	}
	q2_decode(&reader, &dopts, &img);
	q2_reader_close(&reader);

	if (cli->emitter->image(stdout, path, index, &img, &cli->emit) != 0)
		status = EXIT_UNREADABLE;
	/* What decoded is on stdout before the errors about the rest. */
	fflush(stdout);
	for (size_t i = 0; i < img.n_errors; i++) {
		char msg[512];

		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name,
			path, q2_error_format(&img.errors[i], msg, sizeof msg));
		status = EXIT_UNREADABLE;
	}
	q2_image_free(&img);
	return status;
}

int main(int argc, char **argv)
{
	struct cli cli = { .emitter = &q2_emitter_text };
	int status = EXIT_OK;

	argp_err_exit_status = EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &cli);
	cli.emit.n_images = cli.n_images;

	if (cli.emitter->begin && cli.emitter->begin(stdout, &cli.emit) != 0)
		status = EXIT_UNREADABLE;
	for (size_t i = 0; i < cli.n_images; i++) {
		int s = dump_one(&cli, i);

		if (s > status)
			status = s;
	}
	if (cli.emitter->end && cli.emitter->end(stdout, &cli.emit) != 0)
		status = EXIT_UNREADABLE;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error: %s\n",
			program_invocation_short_name, strerror(errno));
		status = EXIT_UNREADABLE;
	}
	return status;
}
