#!/bin/sh
# bench_parser.sh - how long `bkcache parse` takes on a 5,000-line Dockerfile.
#
# Generates a Dockerfile mixing continuations, cache-mount RUNs, heredocs,
# ENV, JSON CMDs, comments and blank lines, then times RUNS parses and RUNS
# runs of `bkcache version`, and prints both averages and their difference
# (parse + dump without process start). The parser itself should stay well
# under 10 ms for such a file. Needs $BKCACHE (set by `make bench`).
set -eu
BKCACHE=${BKCACHE:-./bkcache}
RUNS=${RUNS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
df=$tmp/Dockerfile
{
  echo "# syntax=docker/dockerfile:1"
  echo "FROM golang:1.22 AS base"
  i=0
  while [ $i -lt 555 ]; do
    echo "RUN --mount=type=cache,target=/root/.cache/go-build \\"
    echo "    go build ./... && \\"
    echo "    echo done $i"
    echo "COPY <<EOF /etc/x$i.conf"
    echo "RUN --mount=type=cache,target=/x true"
    echo "EOF"
    echo "ENV A=$i B=\"x y\""
    echo "CMD [\"a\", \"b\"]"
    echo "# comment"
    i=$((i + 1))
  done
} > "$df"
lines=$(wc -l < "$df")
"$BKCACHE" parse -f "$df" > /dev/null
avg_ms() { # command...: average wall time of RUNS runs, in microseconds
  start=$(date +%s%N); n=0
  while [ $n -lt "$RUNS" ]; do "$@" > /dev/null; n=$((n + 1)); done
  end=$(date +%s%N)
  echo $(( (end - start) / RUNS / 1000 ))
}
base=$(avg_ms "$BKCACHE" version)
parse=$(avg_ms "$BKCACHE" parse -f "$df")
echo "| benchmark | lines | runs | parse us | version us | parse - version us |"
echo "|---|---|---|---|---|---|"
echo "| bkcache parse | $lines | $RUNS | $parse | $base | $((parse - base)) |"
