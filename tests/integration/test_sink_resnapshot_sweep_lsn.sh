# The re-snapshot sweep of test_sink_resnapshot_sweep with the doctors'
# positions kept in an lsn_column (docs/mapping.md): the sweep, the stale
# check and the deletes read the rows' own positions.
SWEEP_LSN=1
# shellcheck disable=SC1091
. "$FERRY_SRC_DIR/tests/integration/test_sink_resnapshot_sweep.sh"
