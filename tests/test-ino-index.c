/* test-ino-index.c: the (device, inode) table (src/server/ino-index.c) against a plain array, and its size under churn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "server-internal.h"

#define KEYS 200
#define VALUES 3

/* Entries of the slow model: key k (an inode; devices 1 and 2) may hold several values, as the table may. */
static bool model[KEYS][VALUES];
static int tags[KEYS][VALUES]; /* the values' addresses */

static void *value_of(size_t k, size_t v) { return &tags[k][v]; }

/* Random adds, removals and lookups, duplicates of a key included, checked against the model after each. */
static void test_table_matches_a_model(void **state) {
        (void)state;
        struct ino_index ix = {0};
        srand(4242);
        for (int step = 0; step < 50000; step++) {
                size_t k = (size_t)rand() % KEYS, v = (size_t)rand() % VALUES;
                dev_t dev = 1 + (dev_t)(k % 2);
                if (rand() % 2) {
                        if (!model[k][v]) {
                                assert_int_equal(ino_index_add(&ix, dev, (ino_t)k + 1, value_of(k, v), (uint32_t)v), 0);
                                model[k][v] = true;
                        }
                } else {
                        ino_index_remove(&ix, dev, (ino_t)k + 1, value_of(k, v));
                        model[k][v] = false;
                }
                size_t q = (size_t)rand() % KEYS;
                uint32_t aux = 99;
                void *got = ino_index_find(&ix, 1 + (dev_t)(q % 2), (ino_t)q + 1, &aux);
                bool any = model[q][0] || model[q][1] || model[q][2];
                assert_true(!got == !any);
                if (got) {
                        size_t gv = (size_t)((int *)got - tags[q]);
                        assert_true(gv < VALUES && model[q][gv] && aux == gv);
                }
                /* Another device's inode of the same number is another object. */
                assert_null(ino_index_find(&ix, 3, (ino_t)q + 1, NULL));
        }
        ino_index_free(&ix);
}

/* A steady few live entries, added and removed a million times: the table stays small. */
static void test_churn_does_not_grow_it(void **state) {
        (void)state;
        struct ino_index ix = {0};
        static int live[100];
        for (int i = 0; i < 100; i++)
                assert_int_equal(ino_index_add(&ix, 7, (ino_t)i + 1, &live[i], 0), 0);
        for (int i = 100; i < 1000000; i++) {
                int slot = i % 100;
                ino_index_remove(&ix, 7, (ino_t)(i - 100) + 1, &live[slot]);
                assert_int_equal(ino_index_add(&ix, 7, (ino_t)i + 1, &live[slot], 0), 0);
        }
        assert_int_equal(ix.count, 100);
        if (ix.capacity > 1024)
                fail_msg("100 live entries in a table of %zu slots after a million additions", ix.capacity);
        for (int i = 1000000 - 100; i < 1000000; i++)
                assert_ptr_equal(ino_index_find(&ix, 7, (ino_t)i + 1, NULL), &live[i % 100]);
        ino_index_free(&ix);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_matches_a_model),
                cmocka_unit_test(test_churn_does_not_grow_it),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
