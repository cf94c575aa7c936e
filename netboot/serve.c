/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "loaders.h"
#include "log.h"
#include "menu.h"
#include "run.h"
#include "serve.h"
#include "strbuf.h"
#include "tree.h"
#include "xalloc.h"

#define DNSMASQ "dnsmasq"

struct arglist {
	char **items;
	size_t len;
};

static void arg_addf(struct arglist *args, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void arg_addf(struct arglist *args, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	args->items = xrealloc(args->items, (args->len + 2) * sizeof(*args->items));
	args->items[args->len++] = strbuf_detach(&sb);
	args->items[args->len] = NULL;
}

static void args_release(struct arglist *args)
{
	for (size_t i = 0; i < args->len; i++)
		free(args->items[i]);
	free(args->items);
}

/* The IPv4 address and netmask of IFNAME. */
static int interface_address(const char *ifname, struct in_addr *addr, struct in_addr *mask,
			     struct kvm_error *err)
{
	struct ifaddrs *list, *i;
	int ret = -ENOENT;

	if (if_nametoindex(ifname) == 0)
		return kvm_error_set(err, -ENODEV, "%s: no such network interface", ifname);
	if (getifaddrs(&list) < 0)
		return kvm_error_errno(err, -errno, "%s", ifname);
	for (i = list; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, ifname))
			continue;
		*addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		*mask = ((struct sockaddr_in *)i->ifa_netmask)->sin_addr;
		ret = 0;
		break;
	}
	freeifaddrs(list);
	if (ret < 0)
		kvm_error_set(err, ret, "%s: the interface has no IPv4 address", ifname);
	return ret;
}

/*
 * dnsmasq's command line: no DNS, no configuration file but this, bound to
 * the one interface, TFTP confined to boot/, proxy-DHCP unless a range
 * was given, and the loader picked by client architecture (option 93) and
 * user class (iPXE).
 */
static void dnsmasq_args(const struct serve_options *options, const char *boot,
			 const char *server, struct in_addr network, const char *netmask,
			 unsigned http_port, struct arglist *args)
{
	struct strbuf script = STRBUF_INIT;

	strbuf_addf(&script, "http://%s:%u/" IPXE_SCRIPT, server, http_port);
	arg_addf(args, DNSMASQ);
	arg_addf(args, "--keep-in-foreground");
	arg_addf(args, "--conf-file=/dev/null");
	arg_addf(args, "--log-facility=-");
	arg_addf(args, "--log-dhcp");
	arg_addf(args, "--port=0");
	arg_addf(args, "--pid-file=");
	arg_addf(args, "--interface=%s", options->interface);
	arg_addf(args, "--bind-interfaces");
	arg_addf(args, "--leasefile-ro");
	arg_addf(args, "--enable-tftp=%s", options->interface);
	arg_addf(args, "--tftp-root=%s", boot);
	arg_addf(args, "--dhcp-match=set:bios,option:client-arch,0");
	arg_addf(args, "--dhcp-match=set:efi64,option:client-arch,7");
	arg_addf(args, "--dhcp-match=set:efi64,option:client-arch,9");
	arg_addf(args, "--dhcp-match=set:efihttp,option:client-arch,16");
	arg_addf(args, "--dhcp-userclass=set:ipxe,iPXE");
	if (options->dhcp_range) {
		arg_addf(args, "--dhcp-range=%s,%s,1h", options->dhcp_range, netmask);
		arg_addf(args, "--dhcp-boot=tag:ipxe,%s", script.buf);
		arg_addf(args, "--dhcp-boot=tag:!ipxe,tag:efi64,%s",
			 options->secure_boot ? LOADER_SHIM : LOADER_UEFI);
		arg_addf(args, "--dhcp-boot=tag:!ipxe,tag:bios," LOADER_BIOS);
		arg_addf(args, "--dhcp-boot=tag:efihttp,http://%s:%u/" LOADER_UEFI_HTTP, server,
			 http_port);
		arg_addf(args, "--dhcp-option-force=tag:efihttp,60,HTTPClient");
	} else {
		arg_addf(args, "--dhcp-range=%s,proxy,%s", inet_ntoa(network), netmask);
		arg_addf(args, "--pxe-prompt=kvm-netboot,0");
		arg_addf(args, "--pxe-service=tag:ipxe,x86PC,kvm-netboot,%s", script.buf);
		arg_addf(args, "--pxe-service=tag:ipxe,x86-64_EFI,kvm-netboot,%s", script.buf);
		arg_addf(args, "--pxe-service=tag:!ipxe,x86PC,kvm-netboot," LOADER_BIOS);
		arg_addf(args, "--pxe-service=tag:!ipxe,x86-64_EFI,kvm-netboot," LOADER_UEFI);
		arg_addf(args, "--pxe-service=tag:!ipxe,BC_EFI,kvm-netboot," LOADER_UEFI);
	}
	strbuf_release(&script);
}

static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };

static void stop_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(*stop_signals); i++)
		sigaddset(set, stop_signals[i]);
	sigaddset(set, SIGCHLD);
}

static int start_dnsmasq(const struct arglist *args, pid_t *pid, struct kvm_error *err)
{
	sigset_t none;
	pid_t child;

	if (!run_program_exists(DNSMASQ))
		return kvm_error_set(err, -ENOENT, "dnsmasq is not installed (package dnsmasq-base)");
	child = fork();
	if (child < 0)
		return kvm_error_errno(err, -errno, "starting dnsmasq");
	if (child == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(DNSMASQ, args->items);
		_exit(127);
	}
	*pid = child;
	return 0;
}

/* Records the address clients reach us at, so the menus' URLs hold it. */
static int update_tree(const struct serve_options *options, const char *server,
		       unsigned *http_port, struct kvm_error *err)
{
	struct nb_tree tree;
	int ret = tree_open(options->tree, true, &tree, err);

	if (ret < 0)
		return ret;
	if (options->http_port)
		tree.http_port = options->http_port;
	*http_port = tree.http_port;
	free(tree.server);
	tree.server = xstrdup(server);
	ret = tree_save(&tree, err);
	tree_close(&tree);
	return ret;
}

int serve_run(const struct serve_options *options, struct kvm_error *err)
{
	struct arglist args = { 0 };
	struct http_server *http = NULL;
	struct sockaddr_in listen = { .sin_family = AF_INET };
	struct in_addr addr, mask, network;
	char server[INET_ADDRSTRLEN], netmask[INET_ADDRSTRLEN];
	struct strbuf boot = STRBUF_INIT;
	unsigned http_port;
	sigset_t signals, old;
	pid_t dnsmasq = -1;
	int ret, status, sig;

	if ((ret = interface_address(options->interface, &addr, &mask, err)) < 0)
		return ret;
	inet_ntop(AF_INET, &addr, server, sizeof(server));
	inet_ntop(AF_INET, &mask, netmask, sizeof(netmask));
	network.s_addr = addr.s_addr & mask.s_addr;
	if ((ret = update_tree(options, server, &http_port, err)) < 0)
		return ret;

	/* Blocked before the HTTP server's thread starts, so that only the
	 * sigwaitinfo below takes them. */
	stop_signal_set(&signals);
	sigprocmask(SIG_BLOCK, &signals, &old);

	listen.sin_addr = addr;
	listen.sin_port = htons((uint16_t)http_port);
	if ((ret = http_start(options->tree, &listen, &http, err)) < 0)
		goto out;
	strbuf_addf(&boot, "%s/" TREE_BOOT, options->tree);
	dnsmasq_args(options, boot.buf, server, network, netmask, http_port, &args);
	if ((ret = start_dnsmasq(&args, &dnsmasq, err)) < 0)
		goto out;
	log_notice("serving %s on %s (%s): %s, TFTP, HTTP on port %u", options->tree,
		   options->interface, server,
		   options->dhcp_range ? "DHCP" : "proxy-DHCP (no addresses handed out)", http_port);

	for (;;) {
		siginfo_t info;

		sig = sigwaitinfo(&signals, &info);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD)
			break;
		if (waitpid(dnsmasq, &status, WNOHANG) == dnsmasq) {
			dnsmasq = -1;
			ret = kvm_error_set(err, -ECHILD, "dnsmasq exited (status %d): see its "
					    "messages above",
					    WIFEXITED(status) ? WEXITSTATUS(status)
							      : 128 + WTERMSIG(status));
			goto out;
		}
	}
	log_notice("signal %d: stopping", sig);
	ret = 0;
out:
	if (dnsmasq > 0) {
		kill(dnsmasq, SIGTERM);
		waitpid(dnsmasq, &status, 0);
	}
	http_stop(http);
	sigprocmask(SIG_SETMASK, &old, NULL);
	args_release(&args);
	strbuf_release(&boot);
	return ret;
}
