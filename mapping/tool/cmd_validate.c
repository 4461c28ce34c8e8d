/* ferry-map validate: does the target hold what the mapping makes of the
 * source? mapping/tool/cmd_validate.c */
#include "ferry_log.h"
#include "ferry_map.h"
#include "map_catalog.h"
#include "map_validate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
validate_usage(FILE *out)
{
    fprintf(out,
            "ferry-map validate compares, per entity, the source with the "
            "target\n"
            "through the mapping: row counts, legacy keys missing from or "
            "extra in\n"
            "the target, rows whose mapped content differs (and which "
            "columns), refs\n"
            "that do not resolve, rows parked or rejected by ferry-sink.  "
            "Checksums\n"
            "are computed in the databases per bucket of legacy keys; only "
            "buckets\n"
            "that differ are looked at row by row.\n\n"
            "Usage:\n"
            "  ferry-map validate [--config FILE] [--format text|json] "
            "[--limit N]\n\n"
            "Options:\n"
            "  -c, --config=FILE     the mapping file (default ./ferry.yaml)\n"
            "      --format=FORMAT   text (default) or json\n"
            "      --limit=N         rows listed per entity and kind "
            "(default 20)\n"
            "      --bucket-rows=N   rows per checksum bucket (default "
            "1000)\n"
            "  -h, --help            show this help and exit\n\n"
            "Exit status: 0 source and target agree (rows parked because "
            "their parent\n"
            "is not in the target are reported and allowed), 1 they differ "
            "or a\n"
            "database could not be read, 2 usage or mapping file errors.\n\n"
            "Example:\n"
            "  ferry-map validate -c ferry.yaml --format json\n");
}

static bool
parse_count(const char *s, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v <= 0)
        return false;
    *out = v;
    return true;
}

int
tool_cmd_validate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {"bucket-rows", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = "ferry.yaml";
    bool json = false;
    map_vopts_t opts = {0};
    map_config_t *cfg = NULL;
    map_vreport_t *report = NULL;
    PGconn *src = NULL, *tgt = NULL;
    ferry_err_t err = {0};
    char msg[1024];
    long long n;
    int c;
    int rc = TOOL_EXIT_USAGE;

    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                fprintf(stderr,
                        "ferry-map validate: unknown format \"%s\" (expected "
                        "text or json)\n",
                        optarg);
                return tool_usage_error("validate ");
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'l':
        case 'b':
            if (!parse_count(optarg, &n)) {
                fprintf(stderr,
                        "ferry-map validate: --%s needs a positive number, "
                        "not \"%s\"\n",
                        c == 'l' ? "limit" : "bucket-rows", optarg);
                return tool_usage_error("validate ");
            }
            if (c == 'l')
                opts.limit = (size_t)n;
            else
                opts.bucket_rows = n;
            break;
        case 'h':
            validate_usage(stdout);
            return TOOL_EXIT_OK;
        default:
            return tool_usage_error("validate ");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry-map validate: unexpected argument \"%s\"\n",
                argv[optind]);
        return tool_usage_error("validate ");
    }
    cfg = tool_load_config(path);
    if (cfg == NULL)
        goto done;
    rc = TOOL_EXIT_PROBLEMS;
    src = tool_connect(cfg->source_dsn, "source", msg, sizeof(msg));
    if (src == NULL) {
        fprintf(stderr, "ferry-map validate: %s\n", msg);
        goto done;
    }
    tgt = tool_connect(cfg->target_dsn, "target", msg, sizeof(msg));
    if (tgt == NULL) {
        fprintf(stderr, "ferry-map validate: %s\n", msg);
        goto done;
    }
    if (map_catalog_resolve_keys(cfg, src, &err) != 0 ||
        map_validate_run(cfg, src, tgt, &opts, &report, &err) != 0) {
        fprintf(stderr, "ferry-map validate: %s\n", err.msg);
        goto done;
    }
    if (json) {
        if (map_validate_print_json(report, stdout) != 0) {
            fprintf(stderr, "ferry-map validate: could not write the "
                            "report\n");
            goto done;
        }
    } else {
        map_validate_print_text(report, stdout);
    }
    rc = report->agree ? TOOL_EXIT_OK : TOOL_EXIT_PROBLEMS;

done:
    map_validate_report_free(report);
    PQfinish(src);
    PQfinish(tgt);
    map_config_free(cfg);
    return rc;
}
