/* test-vm-sampling.c - how long a bulk stats call may run before its
 * domains are checked (vdVmSamplingPatience): stats_call_timeout while
 * calls return well within it; on a host where calls of that size took
 * longer lately, twice that time at their pace; never more than half
 * vm_command_timeout. */
#include "vm-sampling.h"

#define S G_USEC_PER_SEC

static void
testNoPace(void)
{
    /* no call returned yet: stats_call_timeout */
    g_assert_cmpint(vdVmSamplingPatience(50, 0, 3 * S, 60 * S), ==, 3 * S);
    g_assert_cmpint(vdVmSamplingPatience(0, 20000, 3 * S, 60 * S), ==, 3 * S);
}

static void
testQuickCalls(void)
{
    /* 2 ms per domain, 50 domains: 100 ms; the timeout stands (a stuck
     * QEMU is found as soon as before) */
    g_assert_cmpint(vdVmSamplingPatience(50, 2000, 3 * S, 60 * S), ==, 3 * S);
    /* exactly half the timeout: still the timeout */
    g_assert_cmpint(vdVmSamplingPatience(50, 30000, 3 * S, 60 * S), ==, 3 * S);
}

static void
testLoadedHost(void)
{
    /* 50 ms per domain, 50 domains: 2.5 s expected, looked at after 5 s */
    g_assert_cmpint(vdVmSamplingPatience(50, 50000, 3 * S, 60 * S), ==, 5 * S);
    /* fewer domains in the call: less time */
    g_assert_cmpint(vdVmSamplingPatience(40, 50000, 3 * S, 60 * S), ==, 4 * S);
    /* at most half vm_command_timeout */
    g_assert_cmpint(vdVmSamplingPatience(100, 500000, 3 * S, 60 * S), ==, 30 * S);
    g_assert_cmpint(vdVmSamplingPatience(100, G_MAXINT64 / 4, 3 * S, 60 * S), ==, 30 * S);
    g_assert_cmpint(vdVmSamplingPatience(G_MAXUINT, 1000000, 3 * S, 60 * S), ==, 30 * S);
}

static void
testTimeoutAboveHalfCommand(void)
{
    /* a stats_call_timeout above half vm_command_timeout is kept */
    g_assert_cmpint(vdVmSamplingPatience(10, 50000, 5 * S, 8 * S), ==, 5 * S);
    g_assert_cmpint(vdVmSamplingPatience(10, 10 * S, 5 * S, 8 * S), ==, 5 * S);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vm-sampling/patience/no-pace", testNoPace);
    g_test_add_func("/vm-sampling/patience/quick-calls", testQuickCalls);
    g_test_add_func("/vm-sampling/patience/loaded-host", testLoadedHost);
    g_test_add_func("/vm-sampling/patience/timeout-above-half-command",
                    testTimeoutAboveHalfCommand);
    return g_test_run();
}
