/* SPDX-License-Identifier: MIT */
/* The sample CGI for nhttpd's chroot, where no shell exists: a static program. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	const char *addr = getenv("REMOTE_ADDR");

	printf("Content-Type: text/plain\r\n\r\n");
	printf("Hello from CGI on tinyrust (nhttpd), client %s\n", addr ? addr : "unknown");
	return 0;
}
