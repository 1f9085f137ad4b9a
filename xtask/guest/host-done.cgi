#!/bin/sh
# The host has finished its requests (x86 guest suite): rc.test's idle check may begin.
touch /tmp/host-done
printf 'Content-Type: text/plain\r\n\r\nok\n'
