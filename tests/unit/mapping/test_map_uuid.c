/* Unit tests of UUIDv5 and the entity-row UUID derivation.
 * tests/unit/mapping/test_map_uuid.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_rules.h"
#include "map_sha1.h"
#include "map_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define NS_DNS "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
#define NS_URL "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
#define NS_FERRY "3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f"

static void
expect_v5(const char *ns_text, const char *name, const char *want)
{
    map_uuid_t ns;
    map_uuid_t u;
    char buf[MAP_UUID_STRLEN];

    assert_int_equal(map_uuid_parse(ns_text, &ns), 0);
    map_uuid_v5(&ns, name, strlen(name), &u);
    assert_string_equal(map_uuid_format(&u, buf), want);
}

/* Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") and friends. */
static void
test_v5_matches_python_vectors(void **state)
{
    (void)state;
    expect_v5(NS_DNS, "python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    expect_v5(NS_URL, "http://python.org/",
              "4c565f0d-3f5a-5890-b41b-20cf47701c5e");
    expect_v5(NS_FERRY, "offices:42", "b7e34874-da14-5653-8d74-c9250da3b3fb");
}

static void
test_entity_uuid_is_v5_of_entity_colon_key(void **state)
{
    const char *one[] = {"42"};
    const char *two[] = {"7", "3"};
    const char *odd[] = {"a,b", "c\\d"};
    map_uuid_t ns;
    map_uuid_t u;
    char buf[MAP_UUID_STRLEN];
    char *key;

    (void)state;
    assert_int_equal(map_uuid_parse(NS_FERRY, &ns), 0);
    key = map_rules_legacy_key(one, 1);
    assert_string_equal(key, "42");
    assert_int_equal(map_uuid_entity(&ns, "offices", key, &u), 0);
    assert_string_equal(map_uuid_format(&u, buf),
                        "b7e34874-da14-5653-8d74-c9250da3b3fb");
    free(key);
    key = map_rules_legacy_key(two, 2);
    assert_string_equal(key, "7,3");
    assert_int_equal(map_uuid_entity(&ns, "order_lines", key, &u), 0);
    assert_string_equal(map_uuid_format(&u, buf),
                        "2394bb4f-d243-5fe1-a077-7682819b2421");
    free(key);
    key = map_rules_legacy_key(odd, 2);
    assert_string_equal(key, "a\\,b,c\\\\d");
    assert_int_equal(map_uuid_entity(&ns, "tags", key, &u), 0);
    assert_string_equal(map_uuid_format(&u, buf),
                        "c0ad3940-5a43-56d2-8169-bdc9a6cb4508");
    free(key);
}

static void
test_long_names_hash_like_short_ones(void **state)
{
    char key[301];
    map_uuid_t ns;
    map_uuid_t u;
    char buf[MAP_UUID_STRLEN];

    (void)state;
    memset(key, 'x', 300);
    key[300] = '\0';
    assert_int_equal(map_uuid_parse(NS_FERRY, &ns), 0);
    assert_int_equal(map_uuid_entity(&ns, "offices", key, &u), 0);
    assert_string_equal(map_uuid_format(&u, buf),
                        "9f59d85f-ce1f-5898-bc37-a737f7268118");
}

/* The SHA-1 of msg given in pieces of at most piece bytes, in hex. */
static void
sha1_hex(const char *msg, size_t len, size_t piece, char hex[41])
{
    map_sha1_t s;
    unsigned char d[MAP_SHA1_LEN];
    size_t at, i;

    map_sha1_init(&s);
    for (at = 0; at < len; at += piece)
        map_sha1_update(&s, msg + at, len - at < piece ? len - at : piece);
    map_sha1_final(&s, d);
    for (i = 0; i < MAP_SHA1_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* FIPS 180's examples (and the empty message), whole and in pieces that
 * cross the block boundary in every way. */
static void
test_sha1_matches_fips_examples(void **state)
{
    static const char two_blocks[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char hex[41];
    char *million = malloc(1000000);
    size_t piece;

    (void)state;
    assert_non_null(million);
    for (piece = 1; piece <= 130; piece++) {
        sha1_hex("abc", 3, piece, hex);
        assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
        sha1_hex("", 0, piece, hex);
        assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        sha1_hex(two_blocks, strlen(two_blocks), piece, hex);
        assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    }
    memset(million, 'a', 1000000);
    sha1_hex(million, 1000000, 1000000, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    sha1_hex(million, 1000000, 4097, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);
}

/* UUIDv5 agrees with libuuid's for names of every length up to 300 bytes
 * (one to six blocks, each padding case) and every byte value. */
static void
test_v5_matches_libuuid(void **state)
{
    unsigned char name[300];
    map_uuid_t ns, u;
    uuid_t want;
    size_t len, i;

    (void)state;
    assert_int_equal(map_uuid_parse(NS_FERRY, &ns), 0);
    for (i = 0; i < sizeof(name); i++)
        name[i] = (unsigned char)(i * 131 + 7);
    for (len = 0; len <= sizeof(name); len++) {
        map_uuid_v5(&ns, name, len, &u);
        uuid_generate_sha1(want, ns.b, (const char *)name, len);
        assert_memory_equal(u.b, want, 16);
    }
}

static void
test_parse_rejects_non_uuids(void **state)
{
    map_uuid_t u;
    char buf[MAP_UUID_STRLEN];

    (void)state;
    assert_int_equal(map_uuid_parse("not-a-uuid", &u), FERRY_ECONFIG);
    assert_int_equal(map_uuid_parse(NS_DNS "0", &u), FERRY_ECONFIG);
    assert_int_equal(map_uuid_parse("", &u), FERRY_ECONFIG);
    assert_int_equal(map_uuid_parse(NULL, &u), FERRY_ECONFIG);
    assert_int_equal(map_uuid_parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", &u),
                     0);
    assert_string_equal(map_uuid_format(&u, buf), NS_DNS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5_matches_python_vectors),
        cmocka_unit_test(test_entity_uuid_is_v5_of_entity_colon_key),
        cmocka_unit_test(test_long_names_hash_like_short_ones),
        cmocka_unit_test(test_sha1_matches_fips_examples),
        cmocka_unit_test(test_v5_matches_libuuid),
        cmocka_unit_test(test_parse_rejects_non_uuids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
