#!/usr/bin/env bash
# check_config.sh RINGCAST FILE STATUS [TEXT...]: `ringcast --check-config FILE` must exit with
# STATUS and print every TEXT (fixed strings) on stdout or stderr.
set -u
ringcast=$1 file=$2 expected=$3
shift 3
output=$("$ringcast" --check-config "$file" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne "$expected" ]; then
  echo "check_config.sh: exit status $status, expected $expected" >&2
  exit 1
fi
for text in "$@"; do
  if ! grep -qF -- "$text" <<<"$output"; then
    echo "check_config.sh: missing from the output: $text" >&2
    exit 1
  fi
done
