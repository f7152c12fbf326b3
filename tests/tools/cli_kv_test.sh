#!/usr/bin/env bash
# End-to-end test of `tessel kv`: set/get round trips (a binary value through stdin, exact bytes out),
# versions, del, list order and prefixes, cas and its conflict exit code, the documented exit codes for bad
# keys and a missing store, the JSON outputs, watch applying a script and printing its events in order,
# and watch --from replaying the changes earlier commands made. Usage: cli_kv_test.sh <path to tessel>
set -euo pipefail
tessel="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/tessel-cli-kv-XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
s="$work/kv"
kv() { "$tessel" kv "$@"; }
# Exit status of a command expected to fail, its output dropped.
status() { set +e; "$@" > /dev/null 2> "$work/stderr"; local rc=$?; set -e; echo "$rc"; }
# JSON is checked with grep patterns everywhere; also parsed where python3 exists (Debian minimal lacks it).
json_parses() {
  if command -v python3 > /dev/null; then
    python3 -c 'import json, sys; [json.loads(l) for l in sys.stdin.read().split("\n") if l] if sys.argv[1] == "lines" else json.loads(sys.stdin.read())' "$1"
  else
    cat > /dev/null
  fi
}

# set then get: versions count writes; get prints the value's bytes exactly, with no newline added.
[[ "$(kv set "$s" /a/x hello --shards 2)" == 1 ]] || fail "first set is not version 1"
kv get "$s" /a/x | cmp - <(printf hello) || fail "get does not print exactly the value"
[[ "$(kv set "$s" /a/x world --durability sync)" == 2 ]] || fail "second set is not version 2"
[[ "$(kv set "$s" /a/x 'with spaces' --durability none)" == 3 ]] || fail "third set is not version 3"
[[ "$(kv get "$s" /a/x)" == "with spaces" ]] || fail "get does not return the latest value"
kv set "$s" /neg -- -5 > /dev/null
[[ "$(kv get "$s" /neg)" == -5 ]] || fail "a value after -- is not taken as it is"

# A value of every byte value, read from stdin, comes back byte for byte.
for i in $(seq 0 255); do printf "\\x$(printf %02x "$i")"; done > "$work/bin"
[[ "$(kv set "$s" /bin - < "$work/bin")" == 1 ]] || fail "set from stdin is not version 1"
kv get "$s" /bin | cmp - "$work/bin" || fail "a binary value does not round-trip"
kv get "$s" /bin --json > "$work/bin.json"
json_parses object < "$work/bin.json" || fail "get --json of a binary value does not parse"
grep -q "\"value_hex\": \"$(od -An -tx1 -v "$work/bin" | tr -d ' \n')\"" "$work/bin.json" || fail "no value_hex"
grep -q '"value":' "$work/bin.json" && fail "a binary value is printed as a JSON string"
printf '' | kv set "$s" /empty - > /dev/null
[[ "$(kv get "$s" /empty | wc -c)" == 0 ]] || fail "an empty value is not empty"

kv get "$s" /a/x --json > "$work/get.json"
json_parses object < "$work/get.json" || fail "get --json does not parse"
for field in '"key": "/a/x"' '"found": true' '"value": "with spaces"' '"version": 3' '"created_at_ns": [1-9]' \
  '"updated_at_ns": [1-9]' '"seq": [1-9]'; do
  grep -q "$field" "$work/get.json" || fail "get --json lacks $field"
done
kv set "$s" /a/x again --json > "$work/set.json"
json_parses object < "$work/set.json" || fail "set --json does not parse"
grep -q '"version": 4' "$work/set.json" || fail "set --json lacks the new version"

# del prints the removed version, 0 when missing; a missing key is a normal answer (exit 0, nothing on
# stdout, found false in JSON); a recreated key starts again at version 1.
[[ "$(kv del "$s" /a/x)" == 4 ]] || fail "del does not print the removed version"
[[ "$(kv del "$s" /a/x)" == 0 ]] || fail "del of a missing key does not print 0"
[[ "$(status kv get "$s" /a/x)" == 0 ]] || fail "get of a missing key does not exit 0"
[[ -z "$(kv get "$s" /a/x 2> /dev/null)" ]] || fail "get of a missing key prints to stdout"
kv get "$s" /a/x --json | grep -q '"found": false' || fail "get --json of a missing key is not found=false"
[[ "$(kv set "$s" /a/x back)" == 1 ]] || fail "a recreated key does not start at version 1"

# list: keys in byte order; a prefix `/a/` holds /a/... and never /ab.
for k in /b /ab /a/c/d /a/b /a/a; do kv set "$s" "$k" "v$k" > /dev/null; done
[[ "$(kv list "$s" /a/ | tr '\n' ' ')" == "/a/a /a/b /a/c/d /a/x " ]] || fail "list /a/ is $(kv list "$s" /a/)"
[[ "$(kv list "$s" | tr '\n' ' ')" == "/a/a /a/b /a/c/d /a/x /ab /b /bin /empty /neg " ]] || fail "list is not in order"
[[ "$(kv list "$s" /a/ --limit 2 | tr '\n' ' ')" == "/a/a /a/b " ]] || fail "list --limit 2"
[[ -z "$(kv list "$s" /nothing/)" ]] || fail "list of an unused prefix is not empty"
kv list "$s" /a/ --json > "$work/list.json"
json_parses object < "$work/list.json" || fail "list --json does not parse"
[[ "$(tr -d ' \n' < "$work/list.json")" == '["/a/a","/a/b","/a/c/d","/a/x"]' ]] || fail "list --json"
kv list "$s" /a/ --values > "$work/values.jsonl"
json_parses lines < "$work/values.jsonl" || fail "list --values does not parse"
[[ "$(wc -l < "$work/values.jsonl")" == 4 ]] || fail "list --values is not one line per entry"
head -1 "$work/values.jsonl" | grep -q '^{"key":"/a/a","value":"v/a/a","version":1,' || fail "list --values line"
kv list "$s" /b --values | grep -q '"value_hex":' || fail "list --values shows a binary value as a string"

# cas: the new version on a match; exit 8 naming expected and found on a mismatch; 0 means missing.
[[ "$(kv cas "$s" /a/a 1 second)" == 2 ]] || fail "cas on the right version"
[[ "$(status kv cas "$s" /a/a 1 third)" == 8 ]] || fail "cas on a stale version does not exit 8"
grep -q '^tessel kv cas: conflict: .*expected version 1, found 2' "$work/stderr" || fail "conflict: $(cat "$work/stderr")"
[[ "$(kv get "$s" /a/a)" == second ]] || fail "a failed cas wrote"
[[ "$(kv cas "$s" /new 0 first)" == 1 ]] || fail "cas with 0 on a missing key"
[[ "$(status kv cas "$s" /new 0 again)" == 8 ]] || fail "cas with 0 on a present key does not exit 8"

# Exit codes: a bad key is 2, a missing store is 2 (and reads create nothing), a bad option value is 1.
for bad in a/b /a//b /a/./b /a/ ''; do
  [[ "$(status kv set "$s" "$bad" v)" == 2 ]] || fail "set of the bad key '$bad' does not exit 2"
done
[[ "$(status kv get "$s" a/b)" == 2 ]] || fail "get of a bad key does not exit 2"
grep -q '^tessel kv get: invalid_argument: ' "$work/stderr" || fail "bad key message: $(cat "$work/stderr")"
[[ "$(status kv get "$work/missing" /a)" == 2 ]] || fail "get on a missing store does not exit 2"
grep -q "^tessel kv get: not_found: .*$work/missing" "$work/stderr" || fail "missing store: $(cat "$work/stderr")"
[[ "$(status kv list "$work/missing")" == 2 ]] || fail "list on a missing store does not exit 2"
[[ -e "$work/missing" ]] && fail "a read created a store"
[[ "$(status kv set "$s" /a v --durability maybe)" == 1 ]] || fail "a bad --durability is not a usage error"

# watch: applies the script, prints the events of /w/* in order (never /wx), then exits.
script=$'set /w/a 1\nset /wx 2\n\n# a comment\nset /w/b/c three  words \nset /w/a 4%\ndel /w/a\ndel /w/missing\ncas /w/b/c 1 5\n  set\t/w/100%\tv'
printf '%s\n' "$script" | kv watch "$s" '/w/*' > "$work/events.txt"
expected=$'created /w/a 1 1\ncreated /w/b/c 1 three  words \nupdated /w/a 2 4%25\ndeleted /w/a 2\nupdated /w/b/c 2 5\ncreated /w/100%25 1 v'
[[ "$(cut -d' ' -f2- "$work/events.txt")" == "$expected" ]] || fail "watch printed: $(cat "$work/events.txt")"
# Seqs rise by one per commit, and skip the one /wx made (a del of a missing key commits nothing).
mapfile -t seqs < <(cut -d' ' -f1 "$work/events.txt")
((seqs[1] == seqs[0] + 2 && seqs[2] == seqs[1] + 1 && seqs[3] == seqs[2] + 1 && seqs[4] == seqs[3] + 1 &&
  seqs[5] == seqs[4] + 1)) || fail "watch seqs ${seqs[*]}"
[[ "$(kv get "$s" /w/b/c)" == 5 ]] || fail "the watch script's writes are not in the store"
# An exact key, and JSON lines.
printf 'set /x 1\nset /x/y 2\nset /x 3\n' | kv watch "$s" /x --json > "$work/events.jsonl"
json_parses lines < "$work/events.jsonl" || fail "watch --json does not parse"
[[ "$(wc -l < "$work/events.jsonl")" == 2 ]] || fail "watch of an exact key: $(cat "$work/events.jsonl")"
grep -q '^{"seq":[0-9]*,"type":"created","key":"/x","version":1,"value":"1"}$' "$work/events.jsonl" || fail "json event"
# A script's own errors: a bad line is exit 2 naming it, after the events before it; a conflict is 8.
printf 'set /y/a 1\nput /y/b 2\n' | kv watch "$s" '*' > "$work/bad.txt" 2> "$work/stderr" && fail "a bad line ran"
[[ "$(status sh -c "printf 'set /y/a 1\nput /y/b 2\n' | \"$tessel\" kv watch \"$s\" '*'")" == 2 ]] ||
  fail "a bad script line does not exit 2"
grep -q '^tessel kv watch: invalid_argument: line 2: ' "$work/stderr" || fail "bad line: $(cat "$work/stderr")"
grep -q ' /y/a 1 1$' "$work/bad.txt" || fail "the events before a bad line were not printed"
[[ "$(status sh -c "printf 'cas /y/a 7 x\n' | \"$tessel\" kv watch \"$s\" '*'")" == 8 ]] ||
  fail "a conflict in a script does not exit 8"
grep -q '^tessel kv watch: conflict: line 1: .*expected version 7, found 2' "$work/stderr" ||
  fail "script conflict: $(cat "$work/stderr")"
[[ "$(status kv watch "$s" 'no/pattern' < /dev/null)" == 2 ]] || fail "a bad pattern does not exit 2"
[[ "$(status kv watch "$s" '/w*' < /dev/null)" == 2 ]] || fail "a '*' inside a segment does not exit 2"
# --from: every command closes the store cleanly, which saves its watch history, so a watch from a seq an
# earlier command printed replays every change since, made by later commands; a seq from before the
# store's first opening is gone (exit 13), and one after the latest commit is a bad argument.
seq_before="$(kv get "$s" /w/b/c --json | sed -n 's/^  "seq": \([0-9]*\),\{0,1\}$/\1/p')"
[[ -n "$seq_before" ]] || fail "get --json has no seq"
kv set "$s" /h/a 1 > /dev/null
kv set "$s" /h/b 2 > /dev/null
kv del "$s" /h/a > /dev/null
kv watch "$s" '/h/*' --from "$seq_before" < /dev/null > "$work/replay.txt"
[[ "$(cut -d' ' -f2- "$work/replay.txt")" == $'created /h/a 1 1\ncreated /h/b 1 2\ndeleted /h/a 1' ]] ||
  fail "watch --from replayed: $(cat "$work/replay.txt")"
[[ "$(status kv watch "$s" '*' --from 1 < /dev/null)" == 13 ]] || fail "--from a seq before the store is not 13"
grep -q '^tessel kv watch: compacted: ' "$work/stderr" || fail "compacted: $(cat "$work/stderr")"
[[ "$(status kv watch "$s" '*' --from 18446744073709551615 < /dev/null)" == 2 ]] || fail "--from the future"

# While a watch holds the store, another command gets busy (exit 7); the watch ends when its stdin does.
mkfifo "$work/script"
kv watch "$s" '/busy/*' < "$work/script" > "$work/busy.txt" &
watcher=$!
exec 3> "$work/script"
echo 'set /busy/probe 1' >&3
for _ in $(seq 100); do [[ -s "$work/busy.txt" ]] && break; sleep 0.1; done
[[ -s "$work/busy.txt" ]] || fail "the watch printed no event for a line it was given"
[[ "$(status kv get "$s" /busy/probe)" == 7 ]] || fail "get of a store a watch holds does not exit 7"
exec 3>&-
wait "$watcher" || fail "the watch did not exit 0 at the end of its script"

# info and check take a whole sharded directory: every shard, one answer, the worst exit code.
"$tessel" check "$s" > "$work/check.txt" || fail "check of a healthy sharded store does not exit 0"
[[ "$(grep -c '^healthy$' "$work/check.txt")" == 2 ]] || fail "check does not report each of the 2 shards"
"$tessel" check "$s" --json > "$work/check.json" || fail "check --json of a sharded store does not exit 0"
json_parses object < "$work/check.json" || fail "check --json of a sharded store does not parse"
grep -q '"per_shard"' "$work/check.json" || fail "check --json has no per_shard"
"$tessel" info "$s" | grep -q '^sharded store ' || fail "info does not describe the sharded store"
kv set "$s" /damage/me value-distinctive-for-damage > /dev/null  # written once: one leaf holds it
shard_file="$(grep -l value-distinctive-for-damage "$s"/shard-*/data.tessel | head -1)"
[[ -n "$shard_file" ]] || fail "the value is in no shard's data file"
offset=$(grep -abo value-distinctive-for-damage "$shard_file" | head -1 | cut -d: -f1)
printf 'X' | dd of="$shard_file" bs=1 seek="$offset" conv=notrunc status=none
[[ "$(status "$tessel" check "$s")" == 3 ]] || fail "check of a sharded store with a damaged shard does not exit 3"

# A single store's directory is not a kv store: writes refuse it rather than add shards beside it.
printf 'tessel-dump 1\nk\tv\n' | "$tessel" load "$work/single" > /dev/null
[[ "$(status kv set "$work/single" /a v)" == 2 ]] || fail "set into a single store does not exit 2"
[[ -e "$work/single/shards.tessel" ]] && fail "set made a sharded store inside a single store"
echo "ok"
