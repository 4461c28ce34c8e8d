/* ferry-devbroker: librdkafka's in-memory mock cluster as a standalone broker.
 * deploy/devbroker/devbroker.c
 *
 * For demos and tests only.  It speaks the Kafka protocol (produce, fetch,
 * consumer groups, idempotence) so that ferry, kcat and Python clients can
 * talk to it, but it keeps everything in memory, keeps only about 5 MiB per
 * partition, has no compaction and no CreateTopics.  Production points ferry
 * at a real Kafka cluster.  With --no-auto-create, a topic exists only
 * once --topic or the "create" command made it (devbroker_proxy.h).
 */
#include "devbroker_control.h"
#include "ferry_log.h"
#include "ferry_version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TOPICS 256

static volatile sig_atomic_t stop_requested = 0;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void
usage(FILE *out)
{
    fprintf(
        out,
        "ferry-devbroker runs an in-memory Kafka-protocol broker "
        "(librdkafka's\n"
        "mock cluster) so that ferry's demos and tests need no JVM.\n\n"
        "It is for demos and tests only: everything is kept in memory and "
        "lost\n"
        "on exit, each partition keeps only about 5 MiB (a consumer that "
        "falls\n"
        "far behind loses data; use more partitions and compression for big\n"
        "runs), there is no log compaction and no CreateTopics request, and\n"
        "transaction aborts are not enforced.  Production points ferry at a\n"
        "real Kafka cluster.\n\n"
        "Usage:\n"
        "  ferry-devbroker [OPTION]...\n\n"
        "Options:\n"
        "  -n, --brokers=N           number of brokers (default 1)\n"
        "  -p, --partitions=N        partitions for --topic and \"create\"\n"
        "                            without a count (default 4; topics that\n"
        "                            clients auto-create always get 4)\n"
        "  -t, --topic=NAME[:PARTS]  create a topic at start (repeatable)\n"
        "  -A, --no-auto-create      topics exist only once --topic or\n"
        "                            \"create\" made them, as on a Kafka with\n"
        "                            auto.create.topics.enable=false\n"
        "  -f, --bootstrap-file=FILE write the bootstrap servers "
        "(host:port,...)\n"
        "                            to FILE once the brokers listen\n"
        "  -c, --control=FIFO|-      read fault-injection commands from FIFO\n"
        "                            (created if missing) or from stdin (-)\n"
        "  -V, --version             print the version and exit\n"
        "  -h, --help                show this help and exit\n\n"
        "Control commands, one per line:\n"
        "  down ID|all            take a broker off the network\n"
        "  up ID|all              bring it back on the same port\n"
        "  rtt ID|all MS          delay the broker's responses by MS\n"
        "  error API CNT ERR...   fail the next CNT requests of API (Produce,\n"
        "                         Fetch, Metadata, ... or a number) with ERR\n"
        "                         (e.g. NOT_LEADER_FOR_PARTITION)\n"
        "  topic-error TOPIC ERR  fail requests on TOPIC (NO_ERROR clears)\n"
        "  create TOPIC [PARTS]   create a topic\n"
        "  bootstrap              print the bootstrap servers\n\n"
        "Ports are chosen at random: read them from the bootstrap file, e.g.\n"
        "  ferry-devbroker -f /tmp/bs -c /tmp/ctl &\n"
        "  kcat -L -b $(cat /tmp/bs)\n"
        "  echo 'down 1' > /tmp/ctl\n");
}

static int
write_bootstrap_file(const char *path, const char *servers)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        ferry_error("could not open bootstrap file \"%s\": %s", tmp,
                    strerror(errno));
        return -1;
    }
    fprintf(f, "%s\n", servers);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        ferry_error("could not write bootstrap file \"%s\": %s", path,
                    strerror(errno));
        return -1;
    }
    return 0;
}

static int
open_control(const char *path)
{
    int fd;

    if (strcmp(path, "-") == 0)
        return STDIN_FILENO;
    if (mkfifo(path, 0600) != 0 && errno != EEXIST) {
        ferry_error("could not create control FIFO \"%s\": %s", path,
                    strerror(errno));
        return -1;
    }
    /* O_RDWR keeps a writer open ourselves, so that a client closing its end
     * does not give us end-of-file and a busy loop. */
    fd = open(path, O_RDWR | O_NONBLOCK);
    if (fd < 0)
        ferry_error("could not open control FIFO \"%s\": %s", path,
                    strerror(errno));
    return fd;
}

/* Reads what is available on fd and runs every complete line.  Returns -1 at
 * end of input (stdin closed), 0 otherwise. */
static int
serve_control(devbroker_ctx_t *ctx, int fd, char *buf, size_t *used, size_t cap,
              int echo_stdout)
{
    ssize_t n = read(fd, buf + *used, cap - 1 - *used);
    char *line, *nl;

    if (n == 0)
        return -1;
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    *used += (size_t)n;
    buf[*used] = '\0';
    line = buf;
    while ((nl = strchr(line, '\n')) != NULL) {
        char reply[512];
        char cmd[4096];

        *nl = '\0';
        snprintf(cmd, sizeof(cmd), "%s", line);
        devbroker_control_exec(ctx, line, reply, sizeof(reply));
        ferry_info("control: %s -> %s", cmd, reply);
        if (echo_stdout) {
            printf("%s\n", reply);
            fflush(stdout);
        }
        line = nl + 1;
    }
    *used = (size_t)(buf + *used - line);
    memmove(buf, line, *used);
    if (*used == cap - 1)
        *used = 0; /* an overlong line: drop it rather than stall */
    return 0;
}

static int
parse_topic(const char *arg, int default_parts, char *name, size_t namelen,
            int *parts)
{
    const char *colon = strrchr(arg, ':');
    char *end;
    long n;

    if (colon == NULL) {
        snprintf(name, namelen, "%s", arg);
        *parts = default_parts;
        return 0;
    }
    n = strtol(colon + 1, &end, 10);
    if (*end != '\0' || n < 1 || n > 10000 || colon == arg)
        return -1;
    snprintf(name, namelen, "%.*s", (int)(colon - arg), arg);
    *parts = (int)n;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'n'},
        {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},
        {"no-auto-create", no_argument, NULL, 'A'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *topics[MAX_TOPICS];
    int ntopics = 0;
    const char *bootstrap_file = NULL, *control = NULL;
    devbroker_ctx_t ctx = {NULL, 1, 4, 1, NULL};
    bool no_auto_create = false;
    char errstr[512], ctlbuf[4096];
    size_t ctlused = 0;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    int c, ctlfd = -1, rc = 1;

    ferry_log_init("ferry-devbroker");
    while ((c = getopt_long(argc, argv, "n:p:t:f:c:AVh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'n':
            ctx.broker_cnt = atoi(optarg);
            if (ctx.broker_cnt < 1 || ctx.broker_cnt > 32) {
                fprintf(stderr, "ferry-devbroker: --brokers must be 1..32\n");
                return 2;
            }
            break;
        case 'p':
            ctx.default_partitions = atoi(optarg);
            if (ctx.default_partitions < 1) {
                fprintf(stderr, "ferry-devbroker: --partitions must be >= 1\n");
                return 2;
            }
            break;
        case 't':
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "ferry-devbroker: too many --topic\n");
                return 2;
            }
            topics[ntopics++] = optarg;
            break;
        case 'f':
            bootstrap_file = optarg;
            break;
        case 'c':
            control = optarg;
            break;
        case 'A':
            no_auto_create = true;
            break;
        case 'V':
            printf("ferry-devbroker %s (librdkafka %s)\n", FERRY_VERSION,
                   rd_kafka_version_str());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr,
                    "Try \"ferry-devbroker --help\" for more information.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry-devbroker: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    ctx.replication_factor = ctx.broker_cnt < 3 ? ctx.broker_cnt : 3;

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        ferry_error("could not configure the broker: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        ferry_error("could not create the broker's handle: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    ctx.mcluster = rd_kafka_mock_cluster_new(rk, ctx.broker_cnt);
    if (ctx.mcluster == NULL) {
        ferry_error("could not start %d mock brokers", ctx.broker_cnt);
        goto done;
    }
    for (int i = 0; i < ntopics; i++) {
        char name[512];
        int parts;
        rd_kafka_resp_err_t err;

        if (parse_topic(topics[i], ctx.default_partitions, name, sizeof(name),
                        &parts) != 0) {
            ferry_error("invalid --topic \"%s\": expected NAME or NAME:PARTS",
                        topics[i]);
            goto done;
        }
        err = rd_kafka_mock_topic_create(ctx.mcluster, name, parts,
                                         ctx.replication_factor);
        if (err) {
            ferry_error("could not create topic \"%s\": %s", name,
                        rd_kafka_err2str(err));
            goto done;
        }
    }
    if (no_auto_create &&
        devbroker_no_auto_create(&ctx, errstr, sizeof(errstr)) != 0) {
        ferry_error("could not turn topic auto-creation off: %s", errstr);
        goto done;
    }
    if (control != NULL && (ctlfd = open_control(control)) < 0)
        goto done;
    if (bootstrap_file != NULL &&
        write_bootstrap_file(bootstrap_file, devbroker_bootstraps(&ctx)) != 0)
        goto done;
    ferry_info("%d broker(s) listening on %s (in-memory, for demos and "
               "tests)%s",
               ctx.broker_cnt, devbroker_bootstraps(&ctx),
               no_auto_create ? "; topics are not auto-created: only --topic "
                                "and \"create\" make them"
                              : "");

    while (!stop_requested) {
        struct pollfd pfd = {ctlfd, POLLIN, 0};

        if (ctlfd < 0) {
            pause();
            continue;
        }
        if (poll(&pfd, 1, 500) > 0 &&
            serve_control(&ctx, ctlfd, ctlbuf, &ctlused, sizeof(ctlbuf),
                          ctlfd == STDIN_FILENO) < 0) {
            /* stdin closed: keep serving until a signal arrives. */
            ctlfd = -1;
        }
    }
    ferry_info("stopping");
    rc = 0;

done:
    if (ctlfd > STDIN_FILENO)
        close(ctlfd);
    if (bootstrap_file != NULL)
        unlink(bootstrap_file);
    devbroker_proxy_stop(ctx.proxy);
    if (ctx.mcluster != NULL)
        rd_kafka_mock_cluster_destroy(ctx.mcluster);
    rd_kafka_destroy(rk);
    return rc;
}
