/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Output that appears under its final name only when complete.  The data
 * goes to a hidden temporary file ".NAME.partial-XXXXXX" in the target
 * folder; commit renames it into place, abort (or SIGINT, SIGTERM, SIGHUP)
 * removes it.  One left by a writer that died (SIGKILL, a crash) is
 * removed by the next outfile_open() of NAME.  An existing file is
 * replaced only when the caller says so (--force).
 */
#ifndef KVM_OUTFILE_H
#define KVM_OUTFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "kvm-error.h"

struct outfile {
	char *path;		/* the final name */
	char *tmp_path;		/* where the data goes until commit */
	int fd;
	int lock_fd;		/* holds the flock that says "being written" */
	bool replace;
	int slot;		/* index in the signal-cleanup table */
};

/*
 * Creates the temporary file for PATH with MODE.  Fails with -EEXIST when
 * PATH exists and REPLACE is false, so nothing is written at all.
 */
int outfile_open(struct outfile *of, const char *path, bool replace, mode_t mode,
		 struct kvm_error *err);

/* Flushes the data to disk and renames it to the final name. */
int outfile_commit(struct outfile *of, struct kvm_error *err);

/* Starts writing what is written so far to the disk, without waiting, so
 * that the flush at commit finds little left and disk writes overlap the
 * work that produces the data.  Errors surface at commit. */
void outfile_start_writeback(struct outfile *of);

/* Removes the temporary file; safe to call on a committed or unopened one. */
void outfile_abort(struct outfile *of);

/*
 * Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every open
 * temporary file and then die of the same signal.  Programs that write
 * output call this once at start-up.
 */
void outfile_install_signal_cleanup(void);

#endif
