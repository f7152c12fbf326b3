#!/usr/bin/env bash
# End-to-end test of `tessel bench`'s verdicts (docs/tools.md §Goals): on random 16-byte keys with 16-byte
# values the goals are judged (PASS or MISS); on path keys and with another value size each goal keeps its
# figure without a verdict; the range_scan phase scans 100 keys per range; bench --durable judges its get
# goals only at the 10M keys they are stated at. JSON is checked with grep
# patterns (Debian minimal has no python3). Usage: cli_bench_test.sh <path to tessel>
set -euo pipefail
tessel="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/tessel-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The JSON lines of goal $2 in report $1 (one key kind per report): name, description, value, target,
# comparison, pass, and a note when there is one.
goal() { grep -A6 "\"name\": \"$2\"" "$1"; }

"$tessel" bench --keys 2000 --ops 2000 --no-peers --key-kind random16 --json > "$work/random16.json"
"$tessel" bench --keys 2000 --ops 2000 --no-peers --key-kind path --json > "$work/path.json"
"$tessel" bench --keys 2000 --ops 2000 --no-peers --key-kind random16 --value-size 32 --json > "$work/v32.json"

for name in bytes_per_key full_scan_ns_per_key range_scan_100_p50_ns; do
  goal "$work/random16.json" "$name" | grep -Eq '"pass": (true|false)' || fail "random16 $name has no verdict"
  for report in path v32; do
    lines="$(goal "$work/$report.json" "$name")"
    grep -q '"pass": null' <<< "$lines" || fail "$report $name has a verdict"
    grep -Eq '"value": [0-9]' <<< "$lines" || fail "$report $name lost its figure"
    grep -q '"note": "the target is set for random16 keys' <<< "$lines" || fail "$report $name does not say why"
  done
done
# Every range scan holds 100 keys, whatever the key kind.
for report in random16 path; do
  grep -A7 '"phase": "range_scan"' "$work/$report.json" | grep -q '"items_per_op": 100.0' ||
    fail "$report range scans did not average 100 keys"
done
"$tessel" bench --keys 2000 --ops 2000 --no-peers --key-kind path | grep -q '^    info  ' ||
  fail "the table shows no info rows for path keys"
"$tessel" bench --keys 2000 --ops 2000 --no-peers --key-kind random16 | grep -Eq '^    (PASS|MISS)  range scan of 100 keys' ||
  fail "the table judges no range scan for random16 keys"

# bench --durable: the get goals are stated at 10M keys, so on a small tree they keep their figures without
# a verdict, and say why; the put goals are judged at any size.
"$tessel" bench --durable --puts 50 --keys 2000 --no-peers --json --dir "$work/durable" > "$work/durable.json"
for name in "mmap get p50 <= 1.2x dram get p50" "pmem get p50 <= 1.2x dram get p50"; do
  lines="$(grep -A3 "\"goal\": \"$name\"" "$work/durable.json")"
  grep -q '"met": null' <<< "$lines" || fail "'$name' has a verdict below 10M keys"
  grep -Eq '"measured": "[0-9.]+x"' <<< "$lines" || fail "'$name' lost its figure"
  grep -q '"note": "the get goals are stated at 10M keys' <<< "$lines" || fail "'$name' does not say why"
done
grep -A3 '"goal": "durable put (log), 2 threads' "$work/durable.json" | grep -Eq '"met": (true|false)' ||
  fail "the group commit goal has no verdict"
# The kv store's durable sets and two-key transactions (one shard, and across two), one thread and two: a
# row each, with a throughput.
for subject in "kv log" "kv txn log" "kv xtxn log"; do
  for part in "put" "put 2 threads"; do
    grep -B7 "\"subject\": \"$subject\"" "$work/durable.json" | grep -A6 '"ops_per_s": [1-9]' |
      grep -q "\"part\": \"$part\"" || fail "no '$part' row with a throughput for '$subject'"
  done
done
"$tessel" bench --durable --puts 50 --keys 2000 --no-peers --dir "$work/durable" | grep -q '^  info mmap get p50' ||
  fail "the durable table shows no info row for gets below 10M keys"
echo "cli bench test: all passed"
