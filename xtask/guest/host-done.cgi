#!/bin/sh
# The host has finished its requests (x86 guest suite): rc.test goes on to the checks that
# want a quiet link, the idle check among them.
touch /tmp/host-done
printf 'Content-Type: text/plain\r\n\r\nok\n'
