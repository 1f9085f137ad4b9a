#!/bin/sh
# The guest's CPU time so far, for `cargo xtask kbench`: the "cpu" line of /proc/stat
# (user nice system idle iowait irq softirq steal, in USER_HZ ticks).
printf 'Content-Type: text/plain\r\n\r\n'
head -n 1 /proc/stat
