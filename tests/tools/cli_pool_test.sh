#!/usr/bin/env bash
# End-to-end test of the store subcommands on a pmem store: load into a new pool, info, check, dump (exact
# round trip), recover on a healthy store, a second load into the pool, then a damaged leaf that check and
# recover report with exit 3 (store_recover_test covers what recover repairs). Usage: cli_pool_test.sh <tessel>
set -euo pipefail
tessel="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/tessel-cli-pool-XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

{
  echo "tessel-dump 1"
  for i in $(seq 1 500); do printf 'key%04d\tvalue-%d-distinctive\n' "$i" "$i"; done
} > "$work/in.txt"

"$tessel" load "$work/s" --backend pmem --pool-size 16777216 -i "$work/in.txt" > /dev/null
[[ -f "$work/s/pool.tessel" ]] || fail "load --backend pmem made no pool"
[[ "$(stat -c %a "$work/s/pool.tessel")" == 600 ]] || fail "pool file is not owner-only"
"$tessel" info "$work/s" --json | grep -q '"backend": "pmem"' || fail "info does not say pmem"
"$tessel" info "$work/s" --json | grep -q '"keys": 500' || fail "info does not report 500 keys"
"$tessel" info "$work/s" --json | grep -q '"persistence": "' || fail "info does not say how the pool persists"
"$tessel" check "$work/s" > "$work/check.txt" || fail "check fails on a healthy pool"
grep -q '^libpmempool *consistent' "$work/check.txt" || fail "check does not run libpmempool's check first"
"$tessel" dump "$work/s" | cmp - "$work/in.txt" || fail "dump of the pool differs from what was loaded"
"$tessel" recover "$work/s" | grep -q "nothing to repair" || fail "recover finds something in a healthy pool"
# load into the existing pool keeps its backend.
printf 'tessel-dump 1\nextra\t1\n' | "$tessel" load "$work/s" > /dev/null
"$tessel" info "$work/s" --json | grep -q '"keys": 501' || fail "a second load did not reach the pool"

# Damage one leaf value (its last copy: the log area holds the record too): check and recover exit 3.
offset=$(grep -abo 'value-250-distinctive' "$work/s/pool.tessel" | tail -1 | cut -d: -f1)
[[ -n "$offset" ]] || fail "leaf value not found in the pool"
printf 'X' | dd of="$work/s/pool.tessel" bs=1 seek="$offset" conv=notrunc status=none
set +e
"$tessel" check "$work/s" > "$work/check.txt"; rc=$?
[[ $rc == 3 ]] || fail "check of a damaged pool exits $rc, not 3"
grep -q "checksum" "$work/check.txt" || fail "check does not name the damaged block"
"$tessel" recover "$work/s" --apply > "$work/recover.txt"; rc=$?
[[ $rc == 3 ]] || fail "recover of a damaged pool exits $rc, not 3"
grep -q "cannot repair" "$work/recover.txt" || fail "recover does not say it cannot repair"
"$tessel" info "$work/missing" 2> /dev/null; [[ $? == 2 ]] || fail "info on a missing store does not exit 2"
# Damage libpmemobj's own pool header: check (libpmempool's verdict, then the refused open) exits 3.
printf 'X' | dd of="$work/s/pool.tessel" bs=1 seek=10 conv=notrunc status=none
"$tessel" check "$work/s" > /dev/null 2>&1; rc=$?
[[ $rc == 3 ]] || fail "check of a pool with a damaged header exits $rc, not 3"
set -e
echo "ok"
