#!/bin/sh
# What the ARMv7-M guest suite (xtask/src/mps2.rs) asks the guest, as a CGI because that
# guest has no console input: ?ping (raw ICMP through rinet to QEMU's gateway), ?mem
# (/proc/meminfo), ?idle (/proc/net/snmp, then again 10 s later; the stack's timer must not
# fire in between). The host parses the output.
echo "Content-Type: text/plain"
echo
case "$QUERY_STRING" in
ping)
	ping 10.0.2.2 2>&1
	;;
mem)
	cat /proc/meminfo
	;;
idle)
	# Let this request's own delayed ACK go out first.
	sleep 2
	cat /proc/net/snmp
	echo ---
	sleep 10
	cat /proc/net/snmp
	;;
esac
