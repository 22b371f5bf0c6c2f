#!/bin/sh
# Mutation testing: every named mutant of src/ must be killed by the
# suite.  See scripts/mutants.py for the list and how each is run.
#   scripts/mutants.sh [NAME...]
exec /usr/bin/python3 "$(dirname "$0")/mutants.py" "$@"
