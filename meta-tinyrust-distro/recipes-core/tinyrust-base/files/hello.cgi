#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "Hello from CGI on $(uname -sr)"
echo "REMOTE_ADDR=$REMOTE_ADDR"
echo "uptime=$(cut -d' ' -f1 /proc/uptime)"
