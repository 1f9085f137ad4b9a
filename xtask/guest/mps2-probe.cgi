#!/bin/sh
# What the ARMv7-M guest suite (xtask/src/mps2.rs) asks the guest, as a CGI because that
# guest has no console input: ?uid (the CGI's /proc/self/status), ?mem (/proc/meminfo), ?idle (once only listeners and this connection are left: /proc/net/snmp, then
# again 10 s later; the stack's timer must not fire in between). The host parses the output.
echo "Content-Type: text/plain"
echo
case "$QUERY_STRING" in
uid)
	cat /proc/self/status
	;;
mem)
	cat /proc/meminfo
	;;
idle)
	# Wait (at most 60 s) until no connection is left but the listeners and this request's
	# own: earlier requests' TIME-WAITs end on the guest's clock, which a loaded host slows
	# down. This busybox's hush has no arithmetic, read or functions: counters are strings,
	# the state is the fixed-width "st" column of /proc/net/tcp.
	quiet=
	for a in 1 2 3 4 5 6; do
		for b in 1 2 3 4 5 6 7 8 9 10; do
			[ -n "$quiet" ] && break
			est=
			other=
			for st in $(cut -c35-36 /proc/net/tcp); do
				case "$st" in
				st|0A) ;;
				01) est="${est}x" ;;
				*) other="${other}x" ;;
				esac
			done
			if [ -z "$other" ] && [ "$est" = x ]; then
				quiet=yes
			else
				sleep 1
			fi
		done
	done
	[ -n "$quiet" ] || echo "connections still open after 60 s"
	# Let this request's own delayed ACK go out first.
	sleep 2
	cat /proc/net/snmp
	echo ---
	sleep 10
	cat /proc/net/snmp
	cat /proc/net/tcp
	;;
esac
