/* A Kafka-protocol proxy in front of the mock brokers that turns topic
 * auto-creation off: ferry-devbroker --no-auto-create.
 * deploy/devbroker/devbroker_proxy.h
 *
 * librdkafka 2.0's mock cluster creates every topic a Metadata request
 * names unless the request itself (version 4 and later) says
 * AllowAutoTopicCreation false, and producers say true; it cannot be told
 * to refuse as a real broker with auto.create.topics.enable=false does.
 * So in that mode ferry-devbroker pins the mock's Metadata API to version
 * 4 and puts this proxy in front of every mock broker:
 *
 * - in every Metadata request it clears AllowAutoTopicCreation, so a topic
 *   exists only when created with --topic or the "create" command;
 * - in every Metadata response it replaces each mock broker's port with
 *   its proxy's, so that clients never talk to the mock directly.
 *
 * Everything else passes through unchanged, frame by frame.  The proxy
 * listens on 127.0.0.1, one port per mock broker, and runs in a thread of
 * its own; a mock broker taken down drops its connections, and the proxy
 * drops the client's with them.
 */
#ifndef DEVBROKER_PROXY_H
#define DEVBROKER_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct devbroker_proxy devbroker_proxy_t;

/* Opens one listener per upstream broker of bootstraps ("host:port,...",
 * borrowed) and starts serving in a thread.  Returns a new proxy
 * (devbroker_proxy_stop()) or NULL with errbuf (caller-owned) saying why. */
devbroker_proxy_t *devbroker_proxy_start(const char *bootstraps, char *errbuf,
                                         size_t errlen);

/* The proxy's bootstrap servers, "127.0.0.1:port,..." (borrowed). */
const char *devbroker_proxy_bootstraps(const devbroker_proxy_t *p);

/* Stops the thread, closes every socket and frees the proxy; NULL is a
 * no-op. */
void devbroker_proxy_stop(devbroker_proxy_t *p);

/* For the proxy and its tests: frame is one request without its 4-byte
 * size, len bytes, changed in place.  For a Metadata request of version 4
 * to 7, clears AllowAutoTopicCreation and returns true with *corr and
 * *version set; false for anything else. */
bool devbroker_proxy_fix_request(unsigned char *frame, size_t len,
                                 int32_t *corr, int16_t *version);

/* frame is the response (without its size) of a Metadata request of
 * version (1 to 8, non-flexible); each broker port found in from (n ports)
 * becomes the port at the same place of to.  Returns false when the frame
 * does not parse (it is then left as it was). */
bool devbroker_proxy_fix_metadata_response(unsigned char *frame, size_t len,
                                           int16_t version, const int *from,
                                           const int *to, size_t n);

#endif
