# The parents deleted under children of test_sink_parent_deleted with the
# children's positions kept in an lsn_column (docs/mapping.md): rows parked
# with their parent carry their row's position, and come back at it.
PD_LSN=1
# shellcheck disable=SC1091
. "$FERRY_SRC_DIR/tests/integration/test_sink_parent_deleted.sh"
