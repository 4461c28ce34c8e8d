/* ferry-map's commands and the helpers they share.
 * mapping/tool/ferry_map.h
 *
 * Each command parses its own options and returns the process exit code:
 * 0 nothing to fix, 1 problems found or the command failed, 2 usage or
 * configuration errors.
 */
#ifndef FERRY_MAP_H
#define FERRY_MAP_H

#include "map_config.h"

#include <libpq-fe.h>

#define TOOL_EXIT_OK 0
#define TOOL_EXIT_PROBLEMS 1
#define TOOL_EXIT_USAGE 2

int tool_cmd_plan(int argc, char **argv);
int tool_cmd_check(int argc, char **argv);
int tool_cmd_validate(int argc, char **argv);
int tool_cmd_import_ids(int argc, char **argv);
int tool_cmd_keys(int argc, char **argv);
int tool_cmd_status(int argc, char **argv);

/* Loads the mapping at path; on failure prints every diagnostic to stderr
 * and returns NULL.  Returns a new model (free with map_config_free()). */
map_config_t *tool_load_config(const char *path);

/* Connects to dsn (borrowed); which ("source", "target") names it in
 * messages, which never show the DSN itself.  Returns a new connection
 * (free with PQfinish()), or NULL with a message in errbuf (caller-owned). */
PGconn *tool_connect(const char *dsn, const char *which, char *errbuf,
                     size_t errlen);

/* Prints "Try ..." to stderr and returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *command);

#endif
