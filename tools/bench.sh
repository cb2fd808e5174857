#!/bin/sh
# make bench: benchmarks.  Not part of the test suite.
echo "no benchmarks yet"
