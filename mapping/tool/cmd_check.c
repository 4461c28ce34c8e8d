/* ferry-map check: the mapping against the live source and target.
 * mapping/tool/cmd_check.c */
#include "ferry_log.h"
#include "ferry_map.h"
#include "map_check.h"

#include <getopt.h>
#include <stdio.h>

static void
check_usage(FILE *out)
{
    fprintf(out,
            "ferry-map check connects to the source and the target (DSNs "
            "from the\n"
            "mapping file, ${VAR} expanded) and reports every problem at "
            "once,\n"
            "each with the line of the mapping it concerns and, where there "
            "is one,\n"
            "the fix: missing tables and columns, types that do not convert,\n"
            "legacy id columns without a unique constraint, UUID columns "
            "that are\n"
            "not uuid, source tables whose updates and deletes would be lost\n"
            "(no primary key or replica identity), NOT NULL target columns "
            "that\n"
            "nothing fills.  It also warns, without failing, about what works "
            "but\n"
            "costs: no DDL event trigger for ferry-cdc on the source, "
            "TOAST-able\n"
            "columns without REPLICA IDENTITY FULL (compacted topics lose "
            "unchanged\n"
            "TOAST values), NaN or Infinity in numeric and float columns "
            "(wal2json\n"
            "2.5 streams them as null).\n\n"
            "Usage:\n"
            "  ferry-map check [--config FILE]\n\n"
            "Options:\n"
            "  -c, --config=FILE   the mapping file (default ./ferry.yaml)\n"
            "  -h, --help          show this help and exit\n\n"
            "Exit status: 0 nothing to fix, 1 problems found (or a database "
            "could\n"
            "not be reached), 2 usage or mapping file errors.\n\n"
            "Example:\n"
            "  LEGACY_PW=secret ferry-map check -c ferry.yaml\n");
}

static void
describe(const char *which, const char *dsn)
{
    char safe[256];

    printf("%s: %s\n", which, ferry_log_dsn_safe(dsn, safe, sizeof(safe)));
}

int
tool_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = "ferry.yaml";
    map_config_t *cfg = NULL;
    PGconn *src = NULL;
    PGconn *tgt = NULL;
    map_diags_t diags, warnings;
    ferry_err_t err = {0};
    char msg[1024];
    int c;
    int rc = TOOL_EXIT_USAGE;

    map_diags_init(&diags);
    map_diags_init(&warnings);
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'h':
            check_usage(stdout);
            return TOOL_EXIT_OK;
        default:
            return tool_usage_error("check ");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry-map check: unexpected argument \"%s\"\n",
                argv[optind]);
        return tool_usage_error("check ");
    }
    cfg = tool_load_config(path);
    if (cfg == NULL)
        goto done;
    printf("checking %s: %zu entities\n", path, cfg->n_entities);
    describe("source", cfg->source_dsn);
    describe("target", cfg->target_dsn);
    src = tool_connect(cfg->source_dsn, "source", msg, sizeof(msg));
    if (src == NULL)
        map_diags_add(&diags, path, (map_pos_t){0, 0}, "source.dsn", "%s", msg);
    tgt = tool_connect(cfg->target_dsn, "target", msg, sizeof(msg));
    if (tgt == NULL)
        map_diags_add(&diags, path, (map_pos_t){0, 0}, "target.dsn", "%s", msg);
    rc = TOOL_EXIT_PROBLEMS;
    if ((src || tgt) &&
        map_check_run(cfg, src, tgt, &diags, &warnings, &err) != 0) {
        fprintf(stderr, "ferry-map check: %s\n", err.msg);
        goto done;
    }
    map_diags_print(&diags, stdout);
    map_diags_print(&warnings, stdout);
    if (warnings.n > 0)
        printf("%zu warning(s): they do not fail the check\n", warnings.n);
    if (diags.n > 0) {
        printf("%zu problem(s) found\n", diags.n);
        goto done;
    }
    printf("no problems found: the mapping fits both databases\n");
    rc = TOOL_EXIT_OK;

done:
    PQfinish(src);
    PQfinish(tgt);
    map_diags_free(&diags);
    map_diags_free(&warnings);
    map_config_free(cfg);
    return rc;
}
