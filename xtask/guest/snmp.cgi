#!/bin/sh
# The guest's counters and free memory, for the host: /proc/net/snmp, then "MemFree KB".
printf 'Content-Type: text/plain\r\n\r\n'
cat /proc/net/snmp
awk '/^MemFree/ { print "MemFree", $2 }' /proc/meminfo
