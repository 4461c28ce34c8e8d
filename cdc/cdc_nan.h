/* NaN and Infinity in streamed numeric and float columns: what wal2json
 * 2.5 sends as null, read back from the source where it can be told.
 * cdc/cdc_nan.h
 *
 * wal2json 2.5 writes NaN, Infinity and -Infinity of numeric, real and
 * double precision columns as JSON null, and knows no option to send them
 * as strings (docs/format.md).  A snapshot reads the real text, so without
 * care the streamed value and the snapshot's would differ silently.  Where
 * it can be told, it is: a NOT NULL numeric or float column that arrives
 * as null holds one of the three.  ferry-cdc then reads the row's current
 * value by key on its ordinary connection and publishes it when it is
 * NaN, Infinity or -Infinity; either way a warning names the table, the
 * column, the key and the LSN.  When the row changed meanwhile (another
 * value now, or no row), the event keeps null and the warning says so: the
 * later change carries the row's newer state.  A nullable column's null
 * cannot be told from SQL NULL; `ferry-map check` counts such values.
 *
 * The streaming thread only.
 */
#ifndef CDC_NAN_H
#define CDC_NAN_H

#include "cdc_tables.h"
#include "cdc_w2j.h"
#include "ferry_err.h"

#include <libpq-fe.h>

/* For msg (an I or U of table ti of tables, both borrowed), reads the
 * current value of every NOT NULL numeric or float column that arrived as
 * null through sql (borrowed) and points those of msg's columns that hold
 * NaN, Infinity or -Infinity at that text (static storage), so that the
 * event carries it.  Warns for each such column.  Returns 0, or
 * FERRY_ETRANSIENT when the row could not be read (msg is left as it
 * was). */
int cdc_nan_recover(const cdc_tables_t *tables, size_t ti, cdc_w2j_msg_t *msg,
                    PGconn *sql, ferry_err_t *err) FERRY_WUR;

#endif
