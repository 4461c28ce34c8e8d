/* Helpers ferry-map's commands share: loading the mapping, connecting.
 * mapping/tool/tool_common.c */
#include "ferry_map.h"
#include "ferry_pg.h"

#include <stdio.h>

map_config_t *
tool_load_config(const char *path)
{
    return map_config_load_or_report(path, "ferry-map");
}

PGconn *
tool_connect(const char *dsn, const char *which, char *errbuf, size_t errlen)
{
    ferry_err_t err = {0, ""};
    char side[64];
    PGconn *conn;

    snprintf(side, sizeof(side), "%s database", which);
    conn = ferry_pg_connect(dsn, NULL, "ferry-map", side, &err);
    if (conn == NULL)
        snprintf(errbuf, errlen, "%s", err.msg);
    return conn;
}

int
tool_usage_error(const char *command)
{
    fprintf(stderr, "Try \"ferry-map %s--help\" for more information.\n",
            command ? command : "");
    return TOOL_EXIT_USAGE;
}
