#!/bin/sh
# Self-test of check_layers.sh, run by make check-layers before the real
# check: the tree under test/layers/fixture/ breaks its rules in known ways
# (an include across layers, a forbidden one, a file of no layer, two
# include cycles, an exception no longer needed); the checker must report
# exactly fixture/expected and fail, so it cannot silently pass everything.
set -u
cd "$(dirname "$0")/../.." || exit 1
fx=test/layers/fixture
out=$(test/layers/check_layers.sh -r $fx/rules $fx/tree 2>&1)
rc=$?
if [ "$rc" -ne 1 ] || [ "$out" != "$(cat $fx/expected)" ]; then
    echo "check-layers self-test FAILED: status $rc (want 1), output:"
    printf '%s\n' "$out" | sed 's/^/    | /'
    echo "  want:"
    sed 's/^/    | /' $fx/expected
    exit 1
fi
echo "check-layers self-test: the fixture's known problems are reported"
