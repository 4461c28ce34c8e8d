/* ferry-sink: applies ferry-cdc's topics to the target database.
 * sink/main.c */
#include "ferry_cli.h"
#include "ferry_log.h"
#include "ferry_version.h"
#include "map_config.h"
#include "sink_run.h"

#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
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
        "  -v, --verbose         log at debug level\n"
        "  -V, --version         print the version and exit\n"
        "  -h, --help            show this help and exit\n\n"
        "SIGTERM or SIGINT: finish the current batch and exit 0.\n"
        "Exit status: 0 after a clean stop, 1 on an error, 2 on bad usage "
        "or\nconfiguration.  docs/sink.md explains the state tables.\n");
}

static int
parse_args(int argc, char **argv, const char **config, sink_run_opts_t *opts)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"exit-at-end", no_argument, NULL, 'e'},
        {"rebuild", no_argument, NULL, 1},
        {"batch", required_argument, NULL, 2},
        {"applied-window", required_argument, NULL, 3},
        {"scale-out", no_argument, NULL, 4},
        {"group", required_argument, NULL, 5},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
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
    int rc;

    ferry_log_init("ferry-sink");
#ifdef __GLIBC__
    /* Every event is a tree of small JSON objects, freed once applied, and
     * glibc then merges its fastbin chunks over and over (malloc_consolidate
     * was a fifth of the sink's CPU).  Without fastbins the sink spends
     * about a quarter less CPU per event (tests/bench/bench_sink.sh,
     * docs/sink.md). */
    mallopt(M_MXFAST, 0);
#endif
    sink_run_opts_init(&opts);
    rc = parse_args(argc, argv, &config, &opts);
    if (rc >= 0)
        return rc;
    if ((cfg = map_config_load_or_report(config, "ferry-sink")) == NULL)
        return 2;

    ferry_cli_stop_on_signals(&stop_requested);

    rc = sink_run(cfg, &opts, &stop_requested, &err);
    if (rc != FERRY_OK)
        ferry_error("%s", err.msg);
    map_config_free(cfg);
    if (rc == FERRY_OK || (stop_requested && rc == FERRY_ETRANSIENT))
        return 0;
    return rc == FERRY_ECONFIG ? 2 : 1;
}
