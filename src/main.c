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

#include "emit.h"
#include "out.h"
#include "problem.h"
#include "qcow2.h"
#include "reader.h"
#include "utf8.h"
#include "walk.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_PROBLEMS = 1,
	EXIT_UNREADABLE = 2,
	EXIT_USAGE = 64,
};

enum { OPT_COMPACT = 0x100, OPT_LIST_CHECKS };

struct cli {
	struct q2_run_opts run;
	bool view_set;
	bool list_checks;
	const struct q2_format *format;
	const char *output;
	char **names;
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
	"  qcow2dump -x -n b0 disk.qcow2     the ranges bitmap b0 marks dirty\n"
	"  qcow2dump -s -f csv disk.qcow2    the internal snapshots, one row each";

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to show:", 1 },
	{ "extensions", 'e', NULL, 0,
	  "Only the header extensions (qcow2.py dump-header-exts)", 1 },
	{ "bitmaps", 'b', NULL, 0, "Only the bitmap directory entries", 1 },
	{ "check", 'c', NULL, 0,
	  "Only the problems found against the spec and QEMU's limits", 1 },
	{ "extents", 'x', NULL, 0,
	  "The dirty ranges of each bitmap, read from its data clusters", 1 },
	{ "snapshots", 's', NULL, 0,
	  "The internal snapshot table, every field of every entry", 1 },
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

static void set_view(struct argp_state *state, enum q2_view_id view)
{
	struct cli *cli = state->input;

	if (cli->view_set && cli->run.view != view)
		argp_error(state, "-e, -b, -c, -x and -s exclude each other");
	cli->run.view = view;
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
	case 's':
		set_view(state, Q2_VIEW_SNAPSHOTS);
		break;
	case OPT_LIST_CHECKS:
		cli->list_checks = true;
		break;
	case 't':
		cli->run.bitmap_table = true;
		break;
	case 'n':
		/* argv outlives the parse; the array has room for every
		 * argument */
		cli->names[cli->run.n_names++] = arg;
		break;
	case 'f':
		cli->format = q2_format_find(arg);
		if (!cli->format) {
			char names[64];

			argp_error(state, "unknown format '%s' (formats: %s)", arg,
				   q2_format_names(names, sizeof names));
		}
		break;
	case OPT_COMPACT:
		cli->run.compact = true;
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

/* Problems for stderr (those not part of --check's output): warnings
 * with their bitmap, errors as they are; returns the exit status they
 * call for. */
static int report_problems(const char *path, const struct q2_image *img)
{
	const struct q2_problems *p = &img->problems;
	int status = EXIT_OK;

	for (size_t i = 0; i < p->n; i++) {
		const struct q2_problem *pb = &p->v[i];
		const struct q2_bitmap *bm = q2_image_bitmap(img, pb->bitmap);
		const char *msg = q2_problem_message(pb);
		bool error = q2_problem_severity(pb) == Q2_SEV_ERROR;

		if (pb->from_check)
			continue;
		fprintf(stderr, "%s: ", program_invocation_short_name);
		fput_terminal_safe(stderr, (const uint8_t *)path, strlen(path));
		fputs(": ", stderr);
		if (!error && bm) {
			fputs("warning: bitmap '", stderr);
			fput_terminal_safe(stderr, (const uint8_t *)bm->name,
					   bm->name_size);
			fputs("': ", stderr);
		}
		fput_terminal_safe(stderr, (const uint8_t *)msg, strlen(msg));
		fputc('\n', stderr);
		if (error)
			status = EXIT_UNREADABLE;
	}
	if (p->lost) {
		fprintf(stderr, "%s: %s: out of memory: problems were lost\n",
			program_invocation_short_name, path);
		status = EXIT_UNREADABLE;
	}
	return status;
}

static int max_status(int a, int b)
{
	return a > b ? a : b;
}

/* Decodes and shows one image; returns its exit status. */
static int dump_one(struct cli *cli, struct q2_run *run, struct q2_out *out,
		    size_t index)
{
	const char *path = cli->images[index];
	struct q2_decode_opts dopts = q2_run_decode_opts(&cli->run);
	struct q2_reader reader;
	struct q2_image img;
	struct q2_source src = { .path = path, .r = &reader, .img = &img };
	int sys_errno = 0;
	int status = EXIT_OK;
	enum q2_code code;

	if (!q2_reader_open(&reader, path, &code, &sys_errno)) {
		q2_out_flush(out);
		fprintf(stderr, "%s: %s: %s: %s\n", program_invocation_short_name,
			path, q2_codes[code].message, strerror(sys_errno));
		return EXIT_UNREADABLE;
	}
	q2_decode(&reader, &dopts, &img);
	q2_run_image(run, &src);
	q2_reader_close(&reader);
	/* What decoded is out before the errors about the rest. */
	q2_out_flush(out);
	if (cli->run.view == Q2_VIEW_CHECK)
		for (size_t i = 0; i < img.problems.n; i++)
			if (img.problems.v[i].from_check &&
			    q2_problem_severity(&img.problems.v[i]) == Q2_SEV_ERROR)
				status = EXIT_PROBLEMS;
	status = max_status(status, report_problems(path, &img));
	q2_image_free(&img);
	return status;
}

/* -o: a temporary file beside FILE, renamed over it once complete. */
static int open_output(const char *path, char **tmp)
{
	mode_t mask;
	int fd;

	if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
		*tmp = NULL;
		return -1;
	}
	fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		free(*tmp);
		*tmp = NULL;
		return -1;
	}
	/* mkostemp makes it 0600; give it the mode a new file would get */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0) {
		int e = errno;

		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		errno = e;
		return -1;
	}
	return fd;
}

static bool close_output(struct q2_out *out, const char *tmp, const char *path)
{
	bool ok = q2_out_flush(out);

	if (!ok)
		errno = out->err;
	ok = fsync(out->fd) == 0 && ok;
	ok = close(out->fd) == 0 && ok;
	if (ok && rename(tmp, path) == 0)
		return true;
	unlink(tmp);
	return false;
}

int main(int argc, char **argv)
{
	static struct q2_out out;
	struct cli cli = { .format = &q2_format_text };
	struct q2_run run;
	char *tmp = NULL;
	int status = EXIT_OK;

	cli.names = calloc((size_t)argc + 1, sizeof *cli.names);
	if (!cli.names)
		return EXIT_UNREADABLE;
	argp_err_exit_status = EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &cli);
	cli.run.n_images = cli.n_images;
	cli.run.names = cli.names;
	if (cli.list_checks) {
		/* code, severity, meaning, what to do: tab-separated */
		for (int c = 0; c < Q2_CODE_COUNT_; c++)
			printf("%s\t%s\t%s\t%s\n", q2_codes[c].name,
			       q2_severity_name(q2_codes[c].severity),
			       q2_codes[c].message, q2_codes[c].advice);
		free(cli.names);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_UNREADABLE;
	}

	q2_out_init_fd(&out, STDOUT_FILENO);
	if (cli.output) {
		int fd = open_output(cli.output, &tmp);

		if (fd < 0) {
			fprintf(stderr, "%s: %s: cannot create: %s\n",
				program_invocation_short_name, cli.output,
				strerror(errno));
			free(cli.names);
			return EXIT_UNREADABLE;
		}
		q2_out_init_fd(&out, fd);
	}
	if (!q2_run_begin(&run, cli.format, &cli.run, &out)) {
		fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
		free(cli.names);
		return EXIT_UNREADABLE;
	}
	for (size_t i = 0; i < cli.n_images; i++)
		status = max_status(status, dump_one(&cli, &run, &out, i));
	q2_run_end(&run);
	if (cli.output) {
		if (!close_output(&out, tmp, cli.output)) {
			fprintf(stderr, "%s: %s: cannot write: %s\n",
				program_invocation_short_name, cli.output,
				strerror(errno));
			status = EXIT_UNREADABLE;
		}
		free(tmp);
	} else if (!q2_out_flush(&out)) {
		fprintf(stderr, "%s: write error: %s\n",
			program_invocation_short_name, strerror(out.err));
		status = EXIT_UNREADABLE;
	}
	free(cli.names);
	return status;
}
