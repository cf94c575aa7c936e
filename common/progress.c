// SPDX-License-Identifier: GPL-2.0-or-later
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "strbuf.h"

#define NS_PER_SEC 1000000000ULL
/* Ten redraws a second are smooth enough and cost nothing. */
#define REDRAW_INTERVAL_NS (NS_PER_SEC / 10)
#define DEFAULT_WIDTH 80
/* Below this the bar says too little to be worth its room. */
#define MIN_BAR_WIDTH 10

static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The unit that shows BYTES with one to four digits before the point. */
static unsigned int unit_for(uint64_t bytes)
{
	unsigned int unit = 0;

	while (unit + 1 < sizeof(units) / sizeof(units[0]) &&
	       (double)bytes >= 1023.95 * (double)(1ULL << (10 * unit)))
		unit++;
	return unit;
}

static double in_unit(uint64_t bytes, unsigned int unit)
{
	return (double)bytes / (double)(1ULL << (10 * unit));
}

const char *progress_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	unsigned int unit = unit_for(bytes);

	if (unit == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s", in_unit(bytes, unit), units[unit]);
	return buf;
}

static int terminal_width(struct progress *p)
{
	struct winsize ws;

	if (p->tty && ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return DEFAULT_WIDTH;
}

static void add_duration(struct strbuf *sb, uint64_t seconds)
{
	if (seconds >= 3600)
		strbuf_addf(sb, "%" PRIu64 ":%02u:%02u", seconds / 3600,
			    (unsigned int)(seconds / 60 % 60), (unsigned int)(seconds % 60));
	else
		strbuf_addf(sb, "%u:%02u", (unsigned int)(seconds / 60),
			    (unsigned int)(seconds % 60));
}

static int percent_of(const struct progress *p)
{
	if (!p->total || p->done >= p->total)
		return 100;
	return (int)((double)p->done * 100.0 / (double)p->total);
}

/* "  45%  1.2/2.6 GiB", and with RATE "  120 MiB/s  ETA 0:12". */
static void format_stats(struct progress *p, uint64_t now, bool rate,
			 struct strbuf *out)
{
	unsigned int unit = unit_for(p->total);
	uint64_t elapsed = now - p->start_ns;
	char bytes[32];

	strbuf_addf(out, "  %3d%%  ", percent_of(p));
	if (unit == 0)
		strbuf_addf(out, "%" PRIu64 "/%" PRIu64 " B", p->done, p->total);
	else
		strbuf_addf(out, "%.1f/%.1f %s", in_unit(p->done, unit),
			    in_unit(p->total, unit), units[unit]);
	if (!rate)
		return;

	if (p->done >= p->total) {
		strbuf_addstr(out, "  in ");
		add_duration(out, elapsed / NS_PER_SEC);
	} else if (elapsed && p->done) {
		double per_sec = (double)p->done * (double)NS_PER_SEC / (double)elapsed;

		strbuf_addf(out, "  %s/s  ETA ",
			    progress_format_bytes((uint64_t)per_sec, bytes, sizeof(bytes)));
		add_duration(out, (uint64_t)((double)(p->total - p->done) / per_sec));
	} else {
		strbuf_addstr(out, "  ETA --:--");
	}
}

/* The whole line, no wider than the terminal minus its last column. */
static void format_line(struct progress *p, uint64_t now, struct strbuf *line)
{
	size_t width = (size_t)terminal_width(p) - 1;
	size_t label_len = strlen(p->label);
	struct strbuf stats = STRBUF_INIT;
	size_t bar;

	format_stats(p, now, true, &stats);
	if (label_len + 3 + MIN_BAR_WIDTH + stats.len > width) {
		strbuf_reset(&stats);
		format_stats(p, now, false, &stats);
	}

	if (label_len + 3 + MIN_BAR_WIDTH + stats.len <= width) {
		size_t filled;

		bar = width - label_len - 3 - stats.len;
		filled = (size_t)((double)bar * percent_of(p) / 100.0);
		strbuf_addf(line, "%s [", p->label);
		for (size_t i = 0; i < bar; i++)
			strbuf_addch(line, i < filled ? '#' : '-');
		strbuf_addch(line, ']');
	} else {
		/* Too narrow for a bar: as much of the label as fits. */
		if (label_len + stats.len > width)
			label_len = stats.len < width ? width - stats.len : 0;
		strbuf_add(line, p->label, label_len);
	}
	strbuf_add(line, stats.buf, stats.len);
	strbuf_release(&stats);
}

static void draw(struct progress *p, uint64_t now, bool final)
{
	struct strbuf line = STRBUF_INIT;

	format_line(p, now, &line);
	if (p->tty) {
		/* Back to the start, and clear what a longer line left behind. */
		fprintf(p->out, "\r%s\033[K%s", line.buf, final ? "\n" : "");
	} else {
		fprintf(p->out, "%s\n", line.buf);
	}
	fflush(p->out);
	p->last_draw_ns = now;
	p->last_percent = percent_of(p);
	strbuf_release(&line);
}

void progress_start(struct progress *p, enum progress_mode mode, FILE *out,
		    const char *label, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
	p->label = label ? label : "";
	p->total = total;
	p->tty = out && isatty(fileno(out));
	p->active = out && (mode == PROGRESS_ALWAYS || (mode == PROGRESS_AUTO && p->tty));
	p->start_ns = now_ns();
	p->last_percent = -1;
	if (p->active && p->tty)
		draw(p, p->start_ns, false);
}

void progress_update(struct progress *p, uint64_t done)
{
	uint64_t now;

	if (!p->active)
		return;
	p->done = done < p->total ? done : p->total;
	if (p->tty) {
		now = now_ns();
		if (now - p->last_draw_ns >= REDRAW_INTERVAL_NS)
			draw(p, now, false);
	} else if (percent_of(p) / 10 > p->last_percent / 10 && percent_of(p) < 100) {
		/* A log gets one line per tenth, not a line per update. */
		draw(p, now_ns(), false);
	}
}

void progress_finish(struct progress *p)
{
	if (!p->active)
		return;
	p->done = p->total;
	draw(p, now_ns(), true);
	p->active = false;
}
