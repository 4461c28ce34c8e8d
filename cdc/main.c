/* ferry-cdc: publishes the legacy database's row changes to Kafka.
 * cdc/main.c */
#include "cdc_metrics.h"
#include "cdc_repl.h"
#include "cdc_stream.h"
#include "ferry_cli.h"
#include "ferry_http.h"
#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_version.h"
#include "map_config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested = 0;

static void
usage(FILE *out)
{
    fprintf(
        out,
        "ferry-cdc reads the legacy database's logical replication slot\n"
        "(wal2json) and publishes every row change of the mapped tables to\n"
        "Kafka: one topic per table (<topic_prefix>.<schema>.<table>) in a\n"
        "Debezium-shaped envelope, BEGIN/END events on\n"
        "<topic_prefix>.transaction and heartbeats on "
        "<topic_prefix>.heartbeat.\n"
        "It confirms to the slot only what Kafka has acknowledged, so a crash\n"
        "at any moment loses nothing; changes sent again after a restart "
        "carry\n"
        "the same source LSNs.\n\n"
        "Usage:\n"
        "  ferry-cdc [OPTION]...\n\n"
        "Options:\n"
        "  -c, --config=FILE          the mapping file (default ./ferry.yaml)\n"
        "  -E, --endpos=LSN           stop once everything up to LSN is\n"
        "                             published and confirmed\n"
        "  -s, --status-interval=SECS feedback to the server (default 10)\n"
        "      --heartbeat-interval=SECS\n"
        "                             heartbeat events (default 10, 0: off)\n"
        "      --max-retained-wal=SIZE  warn when the slot retains more WAL\n"
        "                             (default 1GB; a plain number is MB;\n"
        "                             0: off)\n"
        "      --min-safe-wal=SIZE    warn when the slot's safe_wal_size\n"
        "                             falls under it (default 1GB, 0: off;\n"
        "                             only with max_slot_wal_keep_size)\n"
        "      --max-inflight=N       messages awaiting Kafka before reading\n"
        "                             pauses (default 100000)\n"
        "      --snapshot=MODE        initial (default): read every mapped\n"
        "                             table when the slot is created; never;\n"
        "                             always: at every start; when_needed:\n"
        "                             as initial, and again when the slot\n"
        "                             was invalidated (docs/snapshot.md)\n"
        "      --snapshot-threads=N   snapshot readers (default 2)\n"
        "      --snapshot-chunk=ROWS  rows per snapshot query (default "
        "10000)\n"
        "      --snapshot-split=MB    a table of MB MiB or more is read in\n"
        "                             key ranges, one per reader (default\n"
        "                             10; 0: one reader per table)\n"
        "      --signal-table=SCHEMA.TABLE\n"
        "                             a source table (id text, type text,\n"
        "                             data text): inserting type\n"
        "                             'execute-snapshot', data\n"
        "                             '{\"data-collections\": "
        "[\"public.t\"]}'\n"
        "                             re-reads public.t while streaming\n"
        "      --resnapshot-chunk=ROWS rows per re-snapshot chunk (default "
        "1024)\n"
        "      --metrics-listen=ADDR:PORT\n"
        "                             serve /metrics (Prometheus), /healthz "
        "and\n"
        "                             /readyz there (monitoring.cdc_listen "
        "in\n"
        "                             ferry.yaml; off by default)\n"
        "      --wedged-after=SECS    /healthz answers 503 once the main loop\n"
        "                             has not turned for this long (default "
        "60)\n"
        "      --log-format=FORMAT    text (default) or json, one object per\n"
        "                             line (or FERRY_LOG_FORMAT=json)\n"
        "  -v, --verbose              log at debug level\n"
        "  -V, --version              print the version and exit\n"
        "  -h, --help                 show this help and exit\n\n"
        "The slot (source.slot) is created with wal2json if it is missing;\n"
        "the snapshot is read in the slot's exported snapshot and streaming\n"
        "takes over at its consistent point.  At every status interval the\n"
        "slot's wal_status and safe_wal_size are read: a slot in danger of\n"
        "invalidation is said plainly (docs/operations.md).\n"
        "SIGTERM or SIGINT: flush to Kafka, confirm, exit 0.\n\n"
        "Examples:\n"
        "  ferry-cdc --config ferry.yaml\n"
        "  ferry-cdc --config ferry.yaml --endpos 0/1A2B3C4\n\n"
        "Exit status: 0 after a clean stop, 1 on an error, 2 on bad usage or\n"
        "configuration.  Environment: FERRY_LOG_LEVEL (debug, info, warning,\n"
        "error); ${VAR} in the mapping file is expanded from the "
        "environment.\n");
}

static int
parse_args(int argc, char **argv, const char **config, const char **listen,
           int *wedge_s, cdc_stream_opts_t *opts)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"endpos", required_argument, NULL, 'E'},
        {"status-interval", required_argument, NULL, 's'},
        {"heartbeat-interval", required_argument, NULL, 1},
        {"max-retained-wal", required_argument, NULL, 2},
        {"max-inflight", required_argument, NULL, 3},
        {"snapshot", required_argument, NULL, 4},
        {"snapshot-threads", required_argument, NULL, 5},
        {"snapshot-chunk", required_argument, NULL, 6},
        {"signal-table", required_argument, NULL, 7},
        {"resnapshot-chunk", required_argument, NULL, 8},
        {"min-safe-wal", required_argument, NULL, 9},
        {"metrics-listen", required_argument, NULL, 10},
        {"wedged-after", required_argument, NULL, 11},
        {"log-format", required_argument, NULL, 12},
        {"snapshot-split", required_argument, NULL, 13},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    enum ferry_log_format fmt;
    ferry_err_t err = {0, ""};
    long long size;
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "c:E:s:vVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config = optarg;
            break;
        case 'E':
            if (!ferry_lsn_parse(optarg, strlen(optarg), &opts->endpos)) {
                fprintf(stderr,
                        "ferry-cdc: invalid --endpos \"%s\": expected an LSN "
                        "such as 0/1A2B3C4\n",
                        optarg);
                return 2;
            }
            break;
        case 's':
            if (ferry_cli_parse_long("ferry-cdc", "--status-interval", optarg,
                                     1, 3600, &v) != 0)
                return 2;
            opts->status_interval_ms = (int)v * 1000;
            break;
        case 1:
            if (ferry_cli_parse_long("ferry-cdc", "--heartbeat-interval",
                                     optarg, 0, 86400, &v) != 0)
                return 2;
            opts->heartbeat_interval_ms = (int)v * 1000;
            break;
        case 2:
        case 9:
            /* A plain number of --max-retained-wal is MB, as it always was. */
            if (c == 2 && strspn(optarg, "0123456789") == strlen(optarg)) {
                if (ferry_cli_parse_long("ferry-cdc", "--max-retained-wal",
                                         optarg, 0, 1L << 30, &v) != 0)
                    return 2;
                size = (long long)v << 20;
            } else if (ferry_cli_parse_size("ferry-cdc",
                                            c == 2 ? "--max-retained-wal"
                                                   : "--min-safe-wal",
                                            optarg, &size) != 0) {
                return 2;
            }
            if (c == 2)
                opts->max_retained_wal = (uint64_t)size;
            else
                opts->min_safe_wal = (uint64_t)size;
            break;
        case 10:
            if (ferry_http_check_listen(optarg, "--metrics-listen", &err) !=
                0) {
                fprintf(stderr, "ferry-cdc: %s\n", err.msg);
                return 2;
            }
            *listen = optarg;
            break;
        case 11:
            if (ferry_cli_parse_long("ferry-cdc", "--wedged-after", optarg, 1,
                                     86400, &v) != 0)
                return 2;
            *wedge_s = (int)v;
            break;
        case 12:
            if (!ferry_log_parse_format(optarg, &fmt)) {
                fprintf(stderr,
                        "ferry-cdc: invalid --log-format \"%s\": expected "
                        "text or json\n",
                        optarg);
                return 2;
            }
            ferry_log_set_format(fmt);
            break;
        case 3:
            if (ferry_cli_parse_long("ferry-cdc", "--max-inflight", optarg, 1,
                                     10000000, &v) != 0)
                return 2;
            opts->max_inflight = (size_t)v;
            opts->snapshot.max_inflight = (uint64_t)v;
            break;
        case 4:
            if (!cdc_snapshot_mode_parse(optarg, &opts->snapshot_mode)) {
                fprintf(stderr,
                        "ferry-cdc: invalid --snapshot \"%s\": expected "
                        "initial, never, always or when_needed\n",
                        optarg);
                return 2;
            }
            break;
        case 5:
            if (ferry_cli_parse_long("ferry-cdc", "--snapshot-threads", optarg,
                                     1, 16, &v) != 0)
                return 2;
            opts->snapshot.threads = (int)v;
            break;
        case 6:
            if (ferry_cli_parse_long("ferry-cdc", "--snapshot-chunk", optarg, 1,
                                     1000000, &v) != 0)
                return 2;
            opts->snapshot.chunk_rows = (size_t)v;
            break;
        case 7:
            if (strchr(optarg, '.') == NULL) {
                fprintf(stderr,
                        "ferry-cdc: invalid --signal-table \"%s\": expected "
                        "SCHEMA.TABLE\n",
                        optarg);
                return 2;
            }
            opts->signal_table = optarg;
            break;
        case 13:
            if (ferry_cli_parse_long("ferry-cdc", "--snapshot-split", optarg, 0,
                                     1 << 20, &v) != 0)
                return 2;
            opts->snapshot.split_bytes = (uint64_t)v << 20;
            break;
        case 8:
            if (ferry_cli_parse_long("ferry-cdc", "--resnapshot-chunk", optarg,
                                     1, 1000000, &v) != 0)
                return 2;
            opts->resnapshot_chunk = (size_t)v;
            break;
        case 'v':
            ferry_log_set_level(FERRY_LOG_DEBUG);
            break;
        case 'V':
            printf("ferry-cdc %s\n", FERRY_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try \"ferry-cdc --help\" for more information.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry-cdc: unexpected argument \"%s\"\n",
                argv[optind]);
        fprintf(stderr, "Try \"ferry-cdc --help\" for more information.\n");
        return 2;
    }
    return -1;
}

int
main(int argc, char **argv)
{
    const char *config = "ferry.yaml", *listen = NULL;
    cdc_stream_opts_t opts;
    map_config_t *cfg = NULL;
    cdc_metrics_t *metrics = NULL;
    ferry_err_t err = {0, ""};
    int rc, wedge_s = 0;

    ferry_log_init("ferry-cdc");
    cdc_stream_opts_init(&opts);
    rc = parse_args(argc, argv, &config, &listen, &wedge_s, &opts);
    if (rc >= 0)
        return rc;

    if ((cfg = map_config_load_or_report(config, "ferry-cdc")) == NULL)
        return 2;
    (void)ferry_log_set_field("slot", cfg->source_slot);

    ferry_cli_stop_on_signals(&stop_requested);

    /* The metrics are always counted (the progress lines read them);
     * served only when asked for. */
    if (listen == NULL)
        listen = cfg->cdc_listen;
    if (wedge_s == 0)
        wedge_s = cfg->wedged_after_s > 0 ? cfg->wedged_after_s : 60;
    if ((metrics = cdc_metrics_new(cfg, &err)) == NULL ||
        (listen != NULL &&
         cdc_metrics_listen(metrics, listen, wedge_s * 1000, &err) != 0)) {
        ferry_error("%s", err.msg);
        cdc_metrics_free(metrics);
        map_config_free(cfg);
        return err.status == FERRY_ECONFIG ? 2 : 1;
    }
    opts.metrics = metrics;
    cdc_metrics_phase(metrics, false, "starting: connecting to the source");

    rc = cdc_stream_run(cfg, &opts, &stop_requested, &err);
    if (rc != FERRY_OK)
        ferry_error("%s", err.msg);
    cdc_metrics_free(metrics);
    map_config_free(cfg);
    if (rc == FERRY_OK)
        return 0;
    return rc == FERRY_ECONFIG ? 2 : 1;
}
