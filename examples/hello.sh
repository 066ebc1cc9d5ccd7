#!/usr/bin/env bash
# A tiny app for the quick start: one line a second on stdout.
n=0
trap 'echo "hello: stopping after $n lines"; exit 0' INT TERM
while true; do
  echo "hello from $name (pm_id $pm_id), line $n"
  n=$((n + 1))
  sleep 1 & wait $!
done
