/*
 * fork_ports.c - the resolver's UDP socket across fork(): a C host (Lua
 * has no fork).  usage: fork_ports NAMESERVER.  Asks spoofdns.py's
 * port.sock.test (the TXT record is the source port it saw) in the
 * parent, then in a forked child, then in the parent again, and prints
 * the three ports, one a line: the child must ask from a socket of its
 * own (a new port; sharing the parent's, each would read the other's
 * replies), the parent must keep its socket (the same port as before).
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mailauth.h"

static int ask(mauth_resolver *r, char *port, size_t len)
{
	mauth_question q = { 1, MAUTH_T_TXT, "port.sock.test" };
	const mauth_answer *a;

	if (mauth_resolver_query(r, &q, 1, &a) != 0 ||
	    a->rcode != MAUTH_RC_NOERROR || a->n != 1 || a->rr[0].len >= len)
		return -1;
	memcpy(port, a->rr[0].data, a->rr[0].len + 1);
	return 0;
}

int main(int argc, char **argv)
{
	const char *ns[1];
	mauth_resolver_opts o;
	mauth_resolver *r;
	char err[256], port[64];
	int st = 1;
	pid_t pid;

	if (argc != 2)
		return 2;
	ns[0] = argv[1];
	memset(&o, 0, sizeof o);
	o.nameservers = ns;
	o.n_nameservers = 1;
	o.timeout = 1;
	if (mauth_resolver_new(&r, &o, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (ask(r, port, sizeof port) != 0)
		return 1;
	printf("%s\n", port);
	fflush(stdout);
	if ((pid = fork()) < 0)
		return 1;
	if (pid == 0) {
		if (ask(r, port, sizeof port) != 0)
			_exit(1);
		printf("%s\n", port);
		fflush(stdout);
		mauth_resolver_free(r);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	if (ask(r, port, sizeof port) != 0)
		return 1;
	printf("%s\n", port);
	mauth_resolver_free(r);
	return 0;
}
