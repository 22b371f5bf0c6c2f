#!/bin/sh
# Stands in for the unit tests when configure did not find cmocka, so that
# 'make check' fails loudly instead of passing without them.
echo "cmocka was not found at configure time: install libcmocka-dev and re-run configure" >&2
exit 1
