/* Helpers ferry-map's commands share: loading the mapping, connecting.
 * mapping/tool/tool_common.c */
#include "ferry_log.h"
#include "ferry_map.h"

#include <stdio.h>
#include <string.h>

map_config_t *
tool_load_config(const char *path)
{
    return map_config_load_or_report(path, "ferry-map");
}

PGconn *
tool_connect(const char *dsn, const char *which, char *errbuf, size_t errlen)
{
    char safe[256];
    PGconn *conn = PQconnectdb(dsn);
    size_t len;

    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        return conn;
    ferry_log_dsn_safe(dsn, safe, sizeof(safe));
    snprintf(errbuf, errlen, "could not connect to the %s database (%s): %s",
             which, safe, conn ? PQerrorMessage(conn) : "out of memory");
    len = strlen(errbuf);
    while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == ' '))
        errbuf[--len] = '\0';
    PQfinish(conn);
    return NULL;
}

int
tool_usage_error(const char *command)
{
    fprintf(stderr, "Try \"ferry-map %s--help\" for more information.\n",
            command ? command : "");
    return TOOL_EXIT_USAGE;
}
