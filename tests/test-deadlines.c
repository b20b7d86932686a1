/* test-deadlines.c: the deadline heap (src/server/deadlines.c) against a plain array, over random operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "server-internal.h"

#define N 300

/* The earliest deadline of those in the heap, the slow way; NULL when none is. */
static struct deadline *slowest_top(struct deadline *d, const bool *in) {
        struct deadline *best = NULL;
        for (size_t i = 0; i < N; i++)
                if (in[i] && (!best || d[i].usec < best->usec))
                        best = &d[i];
        return best;
}

/* Every operation the server uses (add, move earlier or later, remove, pop the top), checked after each. */
static void test_heap_matches_a_scan(void **state) {
        (void)state;
        static struct deadline d[N];
        static bool in[N];
        struct deadline_heap h = {0};
        srand(12345);
        for (int step = 0; step < 20000; step++) {
                size_t i = (size_t)rand() % N;
                int op = rand() % 4;
                if (op < 2) {
                        /* Add, or move: few distinct times, so that equal deadlines are common too. */
                        assert_int_equal(deadline_heap_set(&h, &d[i], (uint64_t)(rand() % 50)), 0);
                        in[i] = true;
                } else if (op == 2) {
                        deadline_heap_remove(&h, &d[i]);
                        in[i] = false;
                } else {
                        struct deadline *top = deadline_heap_top(&h);
                        if (top) {
                                in[top - d] = false;
                                deadline_heap_remove(&h, top);
                        }
                }
                struct deadline *top = deadline_heap_top(&h), *want = slowest_top(d, in);
                assert_true(!top == !want);
                if (top)
                        assert_true(top->usec == want->usec); /* any of equal ones may be on top */
                uint32_t count = 0;
                for (size_t k = 0; k < N; k++) {
                        assert_true(!!d[k].slot == in[k]);
                        count += in[k];
                }
                assert_int_equal(h.count, count);
        }
        deadline_heap_free(&h);
        for (size_t k = 0; k < N; k++)
                assert_int_equal(d[k].slot, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_heap_matches_a_scan),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
