/* ferry-cdc: publishes row changes of the legacy database to Kafka.
 * cdc/main.c */
#include "ferry_log.h"
#include "ferry_version.h"

#include <getopt.h>
#include <stdio.h>

static void
usage(FILE *out)
{
    fprintf(
        out,
        "ferry-cdc reads the legacy database's logical replication slot\n"
        "(wal2json) and publishes every row change of the mapped tables to\n"
        "Kafka, one topic per table, in a Debezium-shaped envelope.\n\n"
        "Usage:\n"
        "  ferry-cdc --config FILE [OPTION]...\n\n"
        "Options:\n"
        "  -c, --config=FILE   the mapping file (default ./ferry.yaml)\n"
        "  -V, --version       print the version and exit\n"
        "  -h, --help          show this help and exit\n\n"
        "Streaming is not implemented in this version.\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    ferry_log_init("ferry-cdc");
    while ((c = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
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
    ferry_error("streaming is not implemented in this version");
    return 1;
}
