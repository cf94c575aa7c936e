/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The progress bar of long work.  On a terminal it redraws one line of
 * standard error at most ten times a second; when standard error is not a
 * terminal it prints nothing, unless --progress asked for it.
 */
#ifndef KVM_PROGRESS_H
#define KVM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum progress_mode {
	PROGRESS_AUTO,		/* a bar when stderr is a terminal */
	PROGRESS_ALWAYS,	/* --progress */
	PROGRESS_NEVER,		/* --no-progress */
};

struct progress {
	FILE *out;
	bool active;
	bool tty;
	const char *label;
	uint64_t total;
	uint64_t done;
	uint64_t start_ns;
	uint64_t last_draw_ns;
	int last_percent;
};

void progress_start(struct progress *p, enum progress_mode mode, FILE *out,
		    const char *label, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
/* Draws the final state and ends the line. */
void progress_finish(struct progress *p);

/* Formats a byte count as "1.5 GiB" into buf. */
const char *progress_format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
