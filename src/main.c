/* qcow2dump: show what is inside a qcow2 image, read-only and lock-free.
 * This file alone talks to the user: it parses options, runs the decoder
 * and one emitter per image, reports errors and picks the exit status. */
#include "config.h"

#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "emit.h"
#include "qcow2.h"
#include "reader.h"
#include "utf8.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_PROBLEMS = 1,
	EXIT_UNREADABLE = 2,
	EXIT_USAGE = 64,
};

enum { OPT_COMPACT = 0x100, OPT_LIST_CHECKS };

struct cli {
	struct q2_emit_opts emit;
	bool view_set;
	bool list_checks;
	const struct q2_emitter *emitter;
	const char *output;
	char **names;
	size_t n_names;
	char **images;
	size_t n_images;
};

const char *argp_program_version = PACKAGE_STRING;

static const char doc[] =
	"Show the header, header extensions and persistent dirty bitmaps of "
	"QCOW2 images, read-only and without taking the image lock.\n\n"
	"With no option the output is that of QEMU's qcow2.py dump-header."
	"\v"
	"Exit status: 0 every image decoded (with --check: and no error found); "
	"1 --check found an error; 2 an image could not be read or decoded, "
	"or a NAME is missing (the other images are still shown); 64 usage "
	"error.\n\n"
	"Examples:\n"
	"  qcow2dump disk.qcow2              header and extensions\n"
	"  qcow2dump -e -t disk.qcow2        extensions, bitmaps with their tables\n"
	"  qcow2dump -f json -b disk.qcow2   the bitmaps as JSON, for jq\n"
	"  qcow2dump -c *.qcow2              problems against the spec\n"
	"  qcow2dump -x -n b0 disk.qcow2     the ranges bitmap b0 marks dirty";

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to show:", 1 },
	{ "extensions", 'e', NULL, 0,
	  "Only the header extensions (qcow2.py dump-header-exts)", 1 },
	{ "bitmaps", 'b', NULL, 0, "Only the bitmap directory entries", 1 },
	{ "check", 'c', NULL, 0,
	  "Only the problems found against the spec and QEMU's limits", 1 },
	{ "extents", 'x', NULL, 0,
	  "The dirty ranges of each bitmap, read from its data clusters", 1 },
	{ "bitmap-table", 't', NULL, 0,
	  "Also each bitmap's table entries", 1 },
	{ "name", 'n', "NAME", 0,
	  "Only the bitmap NAME (repeatable); a missing NAME is an error", 1 },
	{ NULL, 0, NULL, 0, "How to show it:", 2 },
	{ "format", 'f', "FMT", 0, "text (default), json or csv", 2 },
	{ "compact", OPT_COMPACT, NULL, 0,
	  "JSON: each document on one line (JSON Lines)", 2 },
	{ "output", 'o', "FILE", 0,
	  "Write to FILE, which is replaced only once it is complete", 2 },
	{ NULL, 0, NULL, 0, "Other:", -1 },
	{ "list-checks", OPT_LIST_CHECKS, NULL, 0,
	  "List every problem code --check can report, and exit", -1 },
	{ 0 }
};

static void set_view(struct argp_state *state, enum q2_view view)
{
	struct cli *cli = state->input;

	if (cli->view_set && cli->emit.view != view)
		argp_error(state, "-e, -b, -c and -x exclude each other");
	cli->emit.view = view;
	cli->view_set = true;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct cli *cli = state->input;

	switch (key) {
	case 'e':
		set_view(state, Q2_VIEW_EXTENSIONS);
		break;
	case 'b':
		set_view(state, Q2_VIEW_BITMAPS);
		break;
	case 'c':
		set_view(state, Q2_VIEW_CHECK);
		break;
	case 'x':
		set_view(state, Q2_VIEW_EXTENTS);
		break;
	case OPT_LIST_CHECKS:
		cli->list_checks = true;
		break;
	case 't':
		cli->emit.bitmap_table = true;
		break;
	case 'n':
		/* argv outlives the parse; the array has room for every
		 * argument */
		cli->names[cli->n_names++] = arg;
		break;
	case 'f':
		cli->emitter = q2_emitter_find(arg);
		if (!cli->emitter) {
			char names[64];

			argp_error(state, "unknown format '%s' (formats: %s)", arg,
				   q2_emitter_names(names, sizeof names));
		}
		break;
	case OPT_COMPACT:
		cli->emit.compact = true;
		break;
	case 'o':
		cli->output = arg;
		break;
	case ARGP_KEY_ARG:
		cli->images = &state->argv[state->next - 1];
		cli->n_images = (size_t)(state->argc - state->next + 1);
		state->next = state->argc;
		break;
	case ARGP_KEY_NO_ARGS:
		if (!cli->list_checks)
			argp_error(state, "no IMAGE given");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse_opt, "IMAGE...", doc,
				  NULL, NULL, NULL };

static bool name_is(const struct q2_bitmap *bm, const char *name)
{
	return bm->name_size == strlen(name) &&
	       memcmp(bm->name, name, bm->name_size) == 0;
}

/* Marks the bitmaps -n asked for; reports each NAME the image lacks,
 * with the names it has. */
static int select_bitmaps(const struct cli *cli, const char *path,
			  const struct q2_image *img, bool **selected)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(img);
	size_t n = bx ? bx->n_bitmaps : 0;
	int status = EXIT_OK;

	*selected = NULL;
	if (!cli->n_names)
		return EXIT_OK;
	*selected = calloc(n ? n : 1, sizeof **selected);
	if (!*selected) {
		fprintf(stderr, "%s: %s: out of memory\n",
			program_invocation_short_name, path);
		return EXIT_UNREADABLE;
	}
	for (size_t k = 0; k < cli->n_names; k++) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (name_is(&bx->bitmaps[i], cli->names[k]))
				(*selected)[i] = found = true;
		if (found)
			continue;
		fprintf(stderr, "%s: %s: no bitmap named '",
			program_invocation_short_name, path);
		fput_terminal_safe(stderr, (const uint8_t *)cli->names[k],
				   strlen(cli->names[k]));
		fputs(n ? "' (bitmaps: " : "' (the image has no bitmaps", stderr);
		for (size_t i = 0; i < n && i < 20; i++) {
			fputs(i ? ", " : "", stderr);
			fput_terminal_safe(stderr,
					   (const uint8_t *)bx->bitmaps[i].name,
					   bx->bitmaps[i].name_size);
		}
		if (n > 20)
			fprintf(stderr, ", and %zu more", n - 20);
		fputs(")\n", stderr);
		status = EXIT_UNREADABLE;
	}
	return status;
}

/* Problems [first, last) to stderr, as warnings or errors (a decoding
 * error's message already says where); returns the exit status they call
 * for. */
static int report_problems(const char *path, const struct q2_image *img,
			   const struct q2_problems *p, size_t first, size_t last)
{
	int status = EXIT_OK;

	for (size_t i = first; i < last; i++) {
		const struct q2_problem *pb = &p->v[i];
		const struct q2_bitmap *bm = q2_problem_bitmap(img, pb);

		fprintf(stderr, "%s: %s: ", program_invocation_short_name, path);
		if (pb->severity == Q2_SEV_WARNING && bm) {
			fputs("warning: bitmap '", stderr);
			fput_terminal_safe(stderr, (const uint8_t *)bm->name,
					   bm->name_size);
			fputs("': ", stderr);
		}
		if (pb->message)
			fput_terminal_safe(stderr, (const uint8_t *)pb->message,
					   strlen(pb->message));
		fputc('\n', stderr);
		if (pb->severity == Q2_SEV_ERROR)
			status = EXIT_UNREADABLE;
	}
	return status;
}

static int max_status(int a, int b)
{
	return a > b ? a : b;
}

/* Decodes and renders one image; returns its exit status. */
static int dump_one(const struct cli *cli, FILE *out, size_t index)
{
	const char *path = cli->images[index];
	bool checking = cli->emit.view == Q2_VIEW_CHECK;
	bool extents = cli->emit.view == Q2_VIEW_EXTENTS;
	/* the checks and the extents look into the tables too */
	struct q2_decode_opts dopts = {
		.load_tables = cli->emit.bitmap_table || checking || extents,
	};
	struct q2_problems problems = { 0 };
	struct q2_emit_image im = { .path = path, .index = index };
	struct q2_reader reader;
	struct q2_image img;
	bool *selected;
	int sys_errno = 0;
	int status;
	enum q2_code code;

	code = q2_reader_open(&reader, path, &sys_errno);
	if (code != Q2_OK) {
		fprintf(stderr, "%s: %s: %s: %s\n", program_invocation_short_name,
			path, q2_code_message(code), strerror(sys_errno));
		return EXIT_UNREADABLE;
	}
	q2_decode(&reader, &dopts, &img);

	status = select_bitmaps(cli, path, &img, &selected);
	q2_problems_add_errors(&problems, &img);
	if (checking) {
		q2_check(&img, &problems);
		if (problems.n_errors > img.n_errors)
			status = max_status(status, EXIT_PROBLEMS);
	}
	im.img = &img;
	im.selected = selected;
	im.problems = &problems;
	/* decoding errors are problems 0..n_errors-1; -x appends its own */
	if (extents) {
		size_t before = problems.n;

		if (q2_emit_extents(out, cli->emitter, &reader, &im, &cli->emit,
				    &problems))
			status = EXIT_UNREADABLE;
		fflush(out);
		status = max_status(status, report_problems(path, &img, &problems,
							    before, problems.n));
	} else if (cli->emitter->image(out, &im, &cli->emit) != 0) {
		status = EXIT_UNREADABLE;
	}
	q2_reader_close(&reader);
	/* What decoded is out before the errors about the rest. */
	fflush(out);
	status = max_status(status, report_problems(path, &img, &problems, 0,
						    img.n_errors));
	q2_problems_free(&problems);
	free(selected);
	q2_image_free(&img);
	return status;
}

/* -o: a temporary file beside FILE, renamed over it once complete. */
static FILE *open_output(const char *path, char **tmp)
{
	mode_t mask;
	FILE *f;
	int fd;

	if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
		*tmp = NULL;
		return NULL;
	}
	fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		free(*tmp);
		*tmp = NULL;
		return NULL;
	}
	/* mkostemp makes it 0600; give it the mode a new file would get */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || !(f = fdopen(fd, "w"))) {
		int e = errno;

		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		errno = e;
		return NULL;
	}
	return f;
}

static bool close_output(FILE *f, const char *tmp, const char *path, bool ok)
{
	ok = fflush(f) == 0 && !ferror(f) && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (ok && rename(tmp, path) == 0)
		return true;
	unlink(tmp);
	return false;
}

int main(int argc, char **argv)
{
	struct cli cli = { .emitter = &q2_emitter_text };
	char *tmp = NULL;
	FILE *out = stdout;
	int status = EXIT_OK;
	bool written = true;

	cli.names = calloc((size_t)argc + 1, sizeof *cli.names);
	if (!cli.names)
		return EXIT_UNREADABLE;
	argp_err_exit_status = EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &cli);
	cli.emit.n_images = cli.n_images;
	if (cli.list_checks) {
		/* code, severity, meaning, what to do: tab-separated */
		for (size_t i = 0; i < q2_n_rules; i++)
			printf("%s\t%s\t%s\t%s\n", q2_rules[i].code,
			       q2_severity_name(q2_rules[i].severity),
			       q2_rules[i].meaning, q2_rules[i].advice);
		/* what stops decoding is reported with the same fields */
		for (int c = Q2_E_NOMEM; c < Q2_E_COUNT_; c++)
			if (c != Q2_E_OPEN)
				printf("%s\terror\t%s\t%s\n", q2_code_name(c),
				       q2_code_message(c),
				       "the image is damaged or beyond QEMU's limits; "
				       "restore it from a backup");
		free(cli.names);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_UNREADABLE;
	}

	if (cli.output) {
		out = open_output(cli.output, &tmp);
		if (!out) {
			fprintf(stderr, "%s: %s: cannot create: %s\n",
				program_invocation_short_name, cli.output,
				strerror(errno));
			free(cli.names);
			return EXIT_UNREADABLE;
		}
	}
	if (cli.emitter->begin && cli.emitter->begin(out, &cli.emit) != 0)
		written = false;
	for (size_t i = 0; i < cli.n_images; i++)
		status = max_status(status, dump_one(&cli, out, i));
	if (cli.emitter->end && cli.emitter->end(out, &cli.emit) != 0)
		written = false;
	if (cli.output) {
		if (!close_output(out, tmp, cli.output, written)) {
			fprintf(stderr, "%s: %s: cannot write: %s\n",
				program_invocation_short_name, cli.output,
				strerror(errno));
			status = EXIT_UNREADABLE;
		}
		free(tmp);
	} else if (!written || fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error: %s\n",
			program_invocation_short_name, strerror(errno));
		status = EXIT_UNREADABLE;
	}
	free(cli.names);
	return status;
}
