/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running the installer's guest and following its console (guest.c). */
#ifndef KVM_INSTALL_GUEST_H
#define KVM_INSTALL_GUEST_H

#include "http.h"
#include "kvm-install.h"

struct guest_run {
	const char *const *argv;	/* QEMU (or kvm-run); its stdout is the console */
	const char *console_log;	/* kept, whatever happens */
	const char *name;		/* the profile, for messages */
	const struct milestone *milestones;
	const char *done_pattern;	/* console text that says the install completed */
	const char *question_pattern;	/* console text that says the installer waits */
	struct http_server *server;	/* for "answer file fetched"; may be NULL */
	unsigned timeout_s;

	/* What happened. */
	const char *last_milestone;	/* NULL: none seen */
	unsigned seen;			/* how many milestones were seen */
	bool done;			/* done_pattern was seen */
	char *question;			/* the title of the question it waits on; freed by the caller */
	bool timed_out;
	int status;			/* exit status, 128 + signal */
	unsigned seconds;
};

/* Runs the guest until it powers off or the time is up. */
int guest_run(struct guest_run *g, struct kvm_error *err);

#endif
