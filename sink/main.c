/* ferry-sink: applies ferry-cdc's topics to the target database.
 * sink/main.c */
#include "ferry_cli.h"
#include "ferry_http.h"
#include "ferry_log.h"
#include "ferry_version.h"
#include "map_config.h"
#include "sink_run.h"

#include <getopt.h>
#ifdef __GLIBC__
#endif
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
        "ferry-sink consumes the topics written by ferry-cdc and applies\n"
        "source-wins upserts to the target database, in foreign-key\n"
        "dependency order, resolving legacy integer keys to UUIDs.  Kafka\n"
        "offsets are stored in the target in the same transaction as the\n"
        "rows, so each event is applied exactly once.\n\n"
        "Usage:\n"
        "  ferry-sink --config FILE [OPTION]...\n\n"
        "Options:\n"
        "  -c, --config=FILE     the mapping file (default ./ferry.yaml)\n"
        "  -e, --exit-at-end     exit 0 once everything the topics held at\n"
        "                        start has been applied or recorded\n"
        "      --rebuild         load every topic from the beginning into "
        "an\n"
        "                        empty target, entity by entity in "
        "dependency\n"
        "                        order, up to the offsets at start; then go "
        "on\n"
        "                        live (an interrupted one resumes)\n"
        "      --batch=N         events per target transaction "
        "(default 20000)\n"
        "      --applied-window=N  applied transactions remembered for\n"
        "                        dropping ones read again (default "
        "100000)\n"
        "      --scale-out       share the partitions with other ferry-sink\n"
        "                        processes through a consumer group: per-key\n"
        "                        order, FK misses parked and drained, no\n"
        "                        transaction order (docs/sink.md, "
        "\"Ordered\n"
        "                        mode and scale-out\")\n"
        "      --group=NAME      the scale-out consumer group (implies\n"
        "                        --scale-out; default "
        "ferry-sink-<topic prefix>)\n"
        "      --metrics-listen=ADDR:PORT  serve /metrics (Prometheus), "
        "/healthz\n"
        "                        and /readyz there (monitoring.sink_listen "
        "in\n"
        "                        ferry.yaml; off by default; "
        "docs/operations.md)\n"
        "      --wedged-after=SECONDS  /healthz answers 503 once the main loop "
        "has\n"
        "                        not turned for this long (default 60)\n"
        "      --log-format=FORMAT  text (default) or json: one object per "
        "line\n"
        "                        (or FERRY_LOG_FORMAT=json)\n"
        "  -v, --verbose         log at debug level\n"
        "  -V, --version         print the version and exit\n"
        "  -h, --help            show this help and exit\n\n"
        "SIGTERM or SIGINT: finish the current batch and exit 0.\n"
        "Exit status: 0 after a clean stop, 1 on an error, 2 on bad usage "
        "or\nconfiguration, 3 when the source's schema no longer matches the "
        "mapping\n(a mapped column dropped or renamed: fix the mapping and "
        "start again;\nnothing is skipped).  docs/sink.md explains the state "
        "tables.\n");
}

static int
parse_args(int argc, char **argv, const char **config, sink_run_opts_t *opts,
           bool *wedge_set)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"exit-at-end", no_argument, NULL, 'e'},
        {"rebuild", no_argument, NULL, 1},
        {"batch", required_argument, NULL, 2},
        {"applied-window", required_argument, NULL, 3},
        {"scale-out", no_argument, NULL, 4},
        {"group", required_argument, NULL, 5},
        {"metrics-listen", required_argument, NULL, 6},
        {"wedged-after", required_argument, NULL, 7},
        {"log-format", required_argument, NULL, 8},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    enum ferry_log_format fmt;
    ferry_err_t err = {0, ""};
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "c:evVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config = optarg;
            break;
        case 'e':
            opts->exit_at_end = true;
            break;
        case 1:
            opts->rebuild = true;
            break;
        case 2:
            if (ferry_cli_parse_long("ferry-sink", "--batch", optarg, 1,
                                     10000000, &v) != 0)
                return 2;
            opts->max_batch = (size_t)v;
            break;
        case 3:
            if (ferry_cli_parse_long("ferry-sink", "--applied-window", optarg,
                                     1, 100000000, &v) != 0)
                return 2;
            opts->applied_window = (size_t)v;
            break;
        case 4:
            opts->scale_out = true;
            break;
        case 5:
            if (optarg[0] == '\0') {
                fprintf(stderr, "ferry-sink: --group needs a name\n");
                return 2;
            }
            opts->scale_out = true;
            opts->group = optarg;
            break;
        case 6:
            if (ferry_http_check_listen(optarg, "--metrics-listen", &err) !=
                0) {
                fprintf(stderr, "ferry-sink: %s\n", err.msg);
                return 2;
            }
            opts->metrics_listen = optarg;
            break;
        case 7:
            if (ferry_cli_parse_long("ferry-sink", "--wedged-after", optarg, 1,
                                     86400, &v) != 0)
                return 2;
            opts->wedge_ms = (int)v * 1000;
            *wedge_set = true;
            break;
        case 8:
            if (!ferry_log_parse_format(optarg, &fmt)) {
                fprintf(stderr,
                        "ferry-sink: invalid --log-format \"%s\": expected "
                        "text or json\n",
                        optarg);
                return 2;
            }
            ferry_log_set_format(fmt);
            break;
        case 'v':
            ferry_log_set_level(FERRY_LOG_DEBUG);
            break;
        case 'V':
            printf("ferry-sink %s\n", FERRY_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr,
                    "Try \"ferry-sink --help\" for more information.\n");
            return 2;
        }
    }
    if (opts->rebuild && opts->scale_out) {
        fprintf(stderr,
                "ferry-sink: --rebuild runs in the ordered mode only; rebuild "
                "with one sink, then start the scale-out sinks\n");
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "ferry-sink: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    return -1;
}

int
main(int argc, char **argv)
{
    const char *config = "ferry.yaml";
    sink_run_opts_t opts;
    map_config_t *cfg = NULL;
    ferry_err_t err = {0, ""};
    bool wedge_set = false;
    int rc;

    ferry_log_init("ferry-sink");
    sink_run_opts_init(&opts);
    rc = parse_args(argc, argv, &config, &opts, &wedge_set);
    if (rc >= 0)
        return rc;
    if ((cfg = map_config_load_or_report(config, "ferry-sink")) == NULL)
        return 2;
    if (opts.metrics_listen == NULL)
        opts.metrics_listen = cfg->sink_listen;
    if (!wedge_set && cfg->wedged_after_s > 0)
        opts.wedge_ms = cfg->wedged_after_s * 1000;
    if (opts.group != NULL)
        (void)ferry_log_set_field("group", opts.group);

    ferry_cli_stop_on_signals(&stop_requested);

    rc = sink_run(cfg, &opts, &stop_requested, &err);
    if (rc != FERRY_OK)
        ferry_error("%s", err.msg);
    map_config_free(cfg);
    if (rc == FERRY_OK || (stop_requested && rc == FERRY_ETRANSIENT))
        return 0;
    if (rc == FERRY_ESCHEMA)
        return 3;
    return rc == FERRY_ECONFIG ? 2 : 1;
}
