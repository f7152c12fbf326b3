#!/usr/bin/env bash
# End-to-end test of the store subcommands: load a dump with every byte value, info, check, dump (the round
# trip is exact), snapshot export/info/import (exact too), named snapshots (create, list, export, drop), then damage a leaf and see check report it with
# exit 3 (and dump too), a store file cut short, and the documented exit codes for a missing store, a bad dump
# and a damaged checkpoint. Usage: cli_store_test.sh <path to tessel>
set -euo pipefail
tessel="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/tessel-cli-XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The canonical dump form of byte $1: itself when printable and not '%', else %XX.
canonical() {
  if (($1 >= 0x20 && $1 <= 0x7E && $1 != 0x25)); then printf "\\x$(printf %02x "$1")"; else printf '%%%02X' "$1"; fi
}
# A dump holding every byte value in keys and values, written in the documented format.
{
  echo "tessel-dump 1"
  for i in $(seq 0 255); do
    b="$(canonical "$i")"
    printf 'key-%s\tvalue-%s-distinctive\n' "$b" "$b"
  done
  printf '/a/b\tplain text value\n'
} > "$work/in.txt"

"$tessel" load "$work/s" -i "$work/in.txt" > /dev/null
[[ "$(stat -c %a "$work/s/data.tessel")" == 600 ]] || fail "data file is not owner-only"
"$tessel" info "$work/s" --json | grep -q '"keys": 257' || fail "info does not report 257 keys"
"$tessel" check "$work/s" > /dev/null || fail "check fails on a healthy store"
"$tessel" check "$work/s" --json | grep -q '"healthy": true' || fail "check --json is not healthy"
"$tessel" dump "$work/s" > "$work/out.txt"
# Dump writes every entry once, in byte order of the (decoded) keys: '/' (0x2F) before "key-" with 0x00.
[[ "$(wc -l < "$work/out.txt")" == 258 ]] || fail "dump does not hold the header and 257 entries"
[[ "$(sed -n 2p "$work/out.txt")" == $'/a/b\tplain text value' ]] || fail "dump does not start with /a/b"
[[ "$(sed -n 3p "$work/out.txt")" == $'key-%00\tvalue-%00-distinctive' ]] || fail "byte 0x00 did not come next"
[[ "$(tail -1 "$work/out.txt")" == $'key-%FF\tvalue-%FF-distinctive' ]] || fail "byte 0xFF did not come last"
grep -qxF $'key-A\tvalue-A-distinctive' "$work/out.txt" || fail "printable bytes are not written as themselves"
cmp <(LC_ALL=C sort "$work/in.txt") <(LC_ALL=C sort "$work/out.txt") || fail "dump holds other lines than were loaded"
"$tessel" load "$work/t" -i "$work/out.txt" > /dev/null
"$tessel" dump "$work/t" | cmp - "$work/out.txt" || fail "load of a dump does not round-trip"

# snapshot export / info / import: a checkpoint file round-trips the store exactly.
"$tessel" snapshot export "$work/s" "$work/ckpt" > /dev/null
"$tessel" snapshot info "$work/ckpt" --json | grep -q '"keys": 257' || fail "snapshot info does not count 257 keys"
"$tessel" snapshot import "$work/ckpt" "$work/from-ckpt" > /dev/null
"$tessel" dump "$work/from-ckpt" | cmp - "$work/out.txt" || fail "export then import does not round-trip"

# Named snapshots: create, list, export one, drop; check counts them and stays healthy.
"$tessel" snapshot create "$work/t" before > /dev/null
printf 'tessel-dump 1\nlater-key\tv\n' | "$tessel" load "$work/t" > /dev/null
"$tessel" snapshot create "$work/t" after --json | grep -q '"keys": 258' || fail "snapshot create does not count 258 keys"
[[ "$("$tessel" snapshot list "$work/t" | cut -f1 | tr '\n' ' ')" == "name after before " ]] || fail "list is not by name"
"$tessel" check "$work/t" > /dev/null || fail "check fails on a store with named snapshots"
"$tessel" snapshot export "$work/t" "$work/before.ckpt" --name before > /dev/null
"$tessel" snapshot import "$work/before.ckpt" "$work/from-before" > /dev/null
"$tessel" dump "$work/from-before" | cmp - "$work/out.txt" || fail "the named snapshot does not hold the state it named"
"$tessel" snapshot drop "$work/t" before > /dev/null
"$tessel" snapshot list "$work/t" --json | grep -q '"name": "before"' && fail "a dropped snapshot is still listed"
"$tessel" check "$work/t" > /dev/null || fail "check fails after a drop"

# compact: the same entries, twice over, with the named snapshot still whole and check healthy.
"$tessel" dump "$work/t" > "$work/t-before.txt"
"$tessel" compact "$work/t" --json | grep -q '"keys": 258' || fail "compact --json does not count 258 keys"
"$tessel" compact "$work/t" > /dev/null || fail "a second compact fails"
"$tessel" dump "$work/t" | cmp - "$work/t-before.txt" || fail "compact changed the entries"
"$tessel" check "$work/t" > /dev/null || fail "check fails after compact"
"$tessel" check "$work/t" --json | grep -q '"leaves_in_key_order": 257' || fail "compacted leaves are not all in key order"
"$tessel" snapshot export "$work/t" "$work/after.ckpt" --name after > /dev/null
"$tessel" snapshot import "$work/after.ckpt" "$work/from-after" > /dev/null
"$tessel" dump "$work/from-after" | cmp - "$work/t-before.txt" || fail "the named snapshot changed under compact"
rc=0; "$tessel" compact "$work/none" 2> /dev/null || rc=$?
[[ $rc == 2 ]] || fail "compact of a missing store is not exit 2 (got $rc)"

# Exit codes: a missing store is 2, a bad dump is 2.
set +e
"$tessel" info "$work/missing" 2> /dev/null; [[ $? == 2 ]] || fail "info on a missing store does not exit 2"
printf 'not a dump\n' | "$tessel" load "$work/u" 2> /dev/null; [[ $? == 2 ]] || fail "load of a bad dump does not exit 2"
# A malformed line after good ones: exit 2, and nothing of this load is committed.
printf 'tessel-dump 1\nnew-key\tv\nbad line\n' | "$tessel" load "$work/t" 2> /dev/null; [[ $? == 2 ]] || fail "bad line not exit 2"
"$tessel" dump "$work/t" | grep -q new-key && fail "a failed load committed part of its input"
# The same into a new store, which loads bottom-up while the keys ascend: nothing committed either.
printf 'tessel-dump 1\nfirst\tv\nsecond\tv\nbad line\n' | "$tessel" load "$work/v" 2> /dev/null
[[ $? == 2 ]] || fail "bad line in a sorted load not exit 2"
"$tessel" dump "$work/v" | grep -q first && fail "a failed sorted load committed part of its input"
# A key over the 16 KiB limit in a sorted load into a new store: exit 2, nothing committed.
{ printf 'tessel-dump 1\nfirst\tv\n'; head -c 16385 /dev/zero | tr '\0' 'k'; printf '\tv\n'; } |
  "$tessel" load "$work/w" 2> "$work/w.err"
[[ $? == 2 ]] || fail "an oversize key in a sorted load is not exit 2"
grep -q "exceeds the limit" "$work/w.err" || fail "the oversize key's error does not name the limit"
"$tessel" dump "$work/w" | grep -q first && fail "a sorted load refused for an oversize key committed part of it"
# kill -9 during a load whose keys do not ascend (puts): the reopened store holds none of it or all of it.
awk 'BEGIN { print "tessel-dump 1"; srand(7); for (i = 0; i < 300000; i++) printf "k%09d\tvalue-%d\n", int(rand() * 1e9), i }' \
  > "$work/shuffled.txt"
"$tessel" load "$work/killed" -i "$work/shuffled.txt" > /dev/null 2>&1 &
sleep 0.3
kill -9 $! 2> /dev/null
wait $! 2> /dev/null
lines=$("$tessel" dump "$work/killed" | wc -l)
all=$(($(tail -n +2 "$work/shuffled.txt" | cut -f1 | sort -u | wc -l) + 1))
[[ $lines == 1 || $lines == "$all" ]] || fail "a killed load left $((lines - 1)) of $((all - 1)) keys"
"$tessel" snapshot drop "$work/t" before 2> /dev/null; [[ $? == 2 ]] || fail "drop of an unknown name is not exit 2"
"$tessel" snapshot create "$work/t" after 2> /dev/null; [[ $? == 2 ]] || fail "create of a taken name is not exit 2"
# A damaged checkpoint: import exits 3 and leaves no store behind; export never overwrites a file.
cp "$work/ckpt" "$work/ckpt-bad"
printf 'X' | dd of="$work/ckpt-bad" bs=1 seek=100 conv=notrunc status=none
"$tessel" snapshot import "$work/ckpt-bad" "$work/bad-import" 2> /dev/null; rc=$?
[[ $rc == 3 ]] || fail "import of a damaged checkpoint exits $rc, not 3"
[[ -e "$work/bad-import" ]] && fail "a failed import left a store behind"
"$tessel" snapshot export "$work/s" "$work/ckpt" 2> /dev/null; [[ $? == 2 ]] || fail "export over an existing file is not exit 2"

# Damage one leaf value: check finds it (exit 3) and names an offset.
offset=$(grep -abo 'value-A-distinctive' "$work/s/data.tessel" | head -1 | cut -d: -f1)
[[ -n "$offset" ]] || fail "leaf value not found in the data file"
printf 'X' | dd of="$work/s/data.tessel" bs=1 seek="$offset" conv=notrunc status=none
"$tessel" check "$work/s" > "$work/check.txt"; rc=$?
[[ $rc == 3 ]] || fail "check of a damaged store exits $rc, not 3"
grep -q "fails its checksum" "$work/check.txt" || fail "check does not name the damaged block"
# dump walks the tree at open, so the damage is corruption (exit 3) there too, never wrong bytes or a wild read.
"$tessel" dump "$work/s" > /dev/null 2>&1; rc=$?
[[ $rc == 3 ]] || fail "dump of a damaged store exits $rc, not 3"

# A store file cut short before the free table its clean close wrote: check and recover say so (exit 3).
printf 'tessel-dump 1\n' | "$tessel" load "$work/cut" > /dev/null
truncate -s 12288 "$work/cut/data.tessel"
"$tessel" check "$work/cut" > "$work/check-cut.txt" 2>&1; rc=$?
[[ $rc == 3 ]] || fail "check of a truncated store exits $rc, not 3"
grep -q "truncated" "$work/check-cut.txt" || fail "check does not say the store file is truncated"
"$tessel" recover "$work/cut" > /dev/null 2>&1; rc=$?
[[ $rc == 3 ]] || fail "recover of a truncated store exits $rc, not 3"
set -e
echo "ok"
