/* gw_pool + gw_loop: work runs on pool threads, completions on the loop thread, in order, and
 * every submitted item completes exactly once, also after the pool stopped. */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "gw_loop.h"
#include "gw_pool.h"
#include "tap.h"

#define N 200

struct item {
    struct gw_work work;
    int id;
    pthread_t ran_on, done_on;
    int done;
};

static struct gw_loop loop;
static atomic_int completed;
static int order[N], norder;

static void work(struct gw_work *w, void *ctx)
{
    struct item *it = (struct item *)w;

    it->ran_on = pthread_self();
    CHECK(ctx == (void *)&loop); /* the thread context from thread_init */
}

static void done(struct gw_work *w)
{
    struct item *it = (struct item *)w;

    it->done_on = pthread_self();
    it->done++;
    if (!w->cancelled)
        order[norder++] = it->id;
    atomic_fetch_add(&completed, 1);
}

static void *thread_init(void *arg)
{
    return arg;
}

int main(void)
{
    static struct item items[N + 1];
    struct gw_pool pool;
    int spins = 0;

    CHECK(evthread_use_pthreads() == 0);
    CHECK(gw_loop_init(&loop) == 0);
    CHECK(gw_loop_start(&loop) == 0);
    /* One pool thread: completions must come back in submission order. */
    CHECK(gw_pool_start(&pool, "test", 1, thread_init, NULL, &loop) == 0);
    for (int i = 0; i < N; i++) {
        items[i].id = i;
        gw_pool_submit(&pool, &loop, &items[i].work, work, done);
    }
    while (atomic_load(&completed) < N && spins++ < 5000)
        usleep(1000);
    CHECK(atomic_load(&completed) == N);
    gw_pool_stop(&pool);

    /* After stop: done runs, with cancelled set, and work does not. */
    items[N].id = N;
    gw_pool_submit(&pool, &loop, &items[N].work, work, done);
    spins = 0;
    while (atomic_load(&completed) < N + 1 && spins++ < 5000)
        usleep(1000);
    gw_loop_stop(&loop);
    gw_loop_drain(&loop);

    CHECK(items[N].done == 1 && items[N].work.cancelled);
    CHECK(norder == N);
    for (int i = 0; i < N; i++) {
        CHECK(order[i] == i);
        CHECK(items[i].done == 1);
        CHECK(pthread_equal(items[i].done_on, loop.thread));
        CHECK(!pthread_equal(items[i].ran_on, loop.thread));
    }
    gw_loop_finish(&loop);
    libevent_global_shutdown();
    return TAP_DONE();
}
