/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The installer runs in a guest whose serial console goes to a log file.
 * kvm-install follows that file: each milestone of the profile found in it
 * is shown once, so a user sees how far the install is, and a failed one
 * says where it stopped.  The guest ends by powering off (QEMU runs with
 * -no-reboot, so the installer's final reboot ends it too).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"
#include "log.h"

extern char **environ;

/* Console text is matched over chunk boundaries with this much overlap. */
#define WINDOW_KEEP 4096

static unsigned elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned)(now.tv_sec - start->tv_sec);
}

/*
 * The title of the question asked before AT: text frontends underline it
 * with dashes.  "an unnamed question" when there is none in sight.
 */
static char *question_title(const char *text, const char *at)
{
	const char *p = at;

	while (p > text) {
		const char *line_end = p - 1, *line = line_end;

		while (line > text && line[-1] != '\n')
			line--;
		if (line_end > line + 3 && strspn(line, "-") >= 4 && line > text) {
			const char *title_end = line - 1, *title = title_end;

			while (title > text && title[-1] != '\n')
				title--;
			while (title_end > title && (title_end[-1] == '\r' || title_end[-1] == ' '))
				title_end--;
			while (title < title_end && *title == ' ')
				title++;
			if (title_end > title)
				return strndup(title, (size_t)(title_end - title));
		}
		p = line;
	}
	return strdup("an unnamed question");
}

static void scan(struct guest_run *g, struct strbuf *window, bool *seen, unsigned seconds)
{
	/* Consoles hold NULs and escape sequences; matching wants text. */
	for (size_t i = 0; i < window->len; i++)
		if (window->buf[i] == '\0')
			window->buf[i] = ' ';
	for (size_t i = 0; g->milestones[i].pattern; i++) {
		if (seen[i] || !strstr(window->buf, g->milestones[i].pattern))
			continue;
		seen[i] = true;
		g->seen++;
		g->last_milestone = g->milestones[i].label;
		log_notice("%s: [%u:%02u] %s", g->name, seconds / 60, seconds % 60,
			   g->milestones[i].label);
	}
	if (g->done_pattern && strstr(window->buf, g->done_pattern))
		g->done = true;
	if (g->question_pattern && !g->question) {
		const char *at = strstr(window->buf, g->question_pattern);

		if (at)
			g->question = question_title(window->buf, at);
	}
	if (window->len > WINDOW_KEEP) {
		memmove(window->buf, window->buf + window->len - WINDOW_KEEP, WINDOW_KEEP);
		strbuf_setlen(window, WINDOW_KEEP);
	}
}

static void stop(pid_t pid, int *wstatus)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, wstatus, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, wstatus, 0);
}

int guest_run(struct guest_run *g, struct kvm_error *err)
{
	posix_spawn_file_actions_t actions;
	struct strbuf window = STRBUF_INIT;
	struct timespec start;
	unsigned fetched = 0, n_milestones = 0;
	bool *seen;
	int log_fd, read_fd = -1, wstatus = 0, ret;
	pid_t pid;

	while (g->milestones[n_milestones].pattern)
		n_milestones++;
	seen = calloc(n_milestones + 1, sizeof(*seen));
	if (!seen)
		return kvm_error_set(err, -ENOMEM, "out of memory");
	log_fd = open(g->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		ret = kvm_error_errno(err, -errno, "%s", g->console_log);
		goto out;
	}
	read_fd = open(g->console_log, O_RDONLY | O_CLOEXEC);
	if (read_fd < 0) {
		ret = kvm_error_errno(err, -errno, "%s", g->console_log);
		goto out;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
	ret = -posix_spawnp(&pid, g->argv[0], &actions, NULL, (char *const *)g->argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (ret < 0) {
		kvm_error_errno(err, ret, "%s", g->argv[0]);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		char chunk[65536];
		ssize_t n;
		bool exited = waitpid(pid, &wstatus, WNOHANG) == pid;

		/* After the exit too: the last words are on the console. */
		while ((n = read(read_fd, chunk, sizeof(chunk))) > 0) {
			strbuf_add(&window, chunk, (size_t)n);
			scan(g, &window, seen, elapsed(&start));
		}
		if (g->server && g->server->served > fetched) {
			fetched = g->server->served;
			log_notice("%s: [%u:%02u] answer file fetched by the installer", g->name,
				   elapsed(&start) / 60, elapsed(&start) % 60);
		}
		if (exited)
			break;
		if (g->question) {
			stop(pid, &wstatus);
			break;
		}
		if (elapsed(&start) >= g->timeout_s) {
			g->timed_out = true;
			stop(pid, &wstatus);
			break;
		}
		usleep(250000);
	}
	g->seconds = elapsed(&start);
	g->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	ret = 0;
out:
	if (log_fd >= 0)
		close(log_fd);
	if (read_fd >= 0)
		close(read_fd);
	strbuf_release(&window);
	free(seen);
	return ret;
}
