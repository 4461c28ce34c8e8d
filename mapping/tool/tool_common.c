/* Helpers ferry-map's commands share: loading the mapping, connecting.
 * mapping/tool/tool_common.c */
#include "ferry_log.h"
#include "ferry_map.h"

#include <stdio.h>
#include <string.h>

map_config_t *
tool_load_config(const char *path)
{
    map_diags_t diags;
    map_config_t *cfg = NULL;
    int rc;

    map_diags_init(&diags);
    rc = map_config_load(path, &cfg, &diags);
    if (rc != 0) {
        map_diags_print(&diags, stderr);
        if (rc == FERRY_ENOMEM)
            fprintf(stderr, "ferry-map: out of memory\n");
        else
            fprintf(stderr, "ferry-map: %zu error(s) in mapping file \"%s\"\n",
                    diags.n, path);
    }
    map_diags_free(&diags);
    return cfg;
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
