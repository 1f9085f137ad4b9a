#!/bin/sh
# Whom CGI runs as, for the x86 guest suite: the Uid line of its own status.
printf 'Content-Type: text/plain\r\n\r\n'
grep '^Uid:' /proc/self/status
