/*
 * gw_loop: an event loop thread (libevent) that other threads can hand work to.
 *
 * Each loop owns one event_base and runs it on its own thread. Other threads never touch the
 * loop's objects; they post a gw_task, and the task's callback runs on the loop thread, in the
 * order posted. This is how blocking work done elsewhere (disk, images, PostgreSQL) reports back
 * to the connections that asked for it.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <pthread.h>
#include <stdbool.h>

struct event_base;
struct event;
struct gw_task;

typedef void (*gw_task_cb)(struct gw_task *task);

/* Intrusive: embed it in the object that the callback needs. */
struct gw_task {
    struct gw_task *next;
    gw_task_cb cb;
};

struct gw_loop {
    struct event_base *base;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    struct gw_task *head, *tail; /* posted tasks, under mu */
    struct event *wake;
};

/*
 * Creates the loop's event_base in caller memory |l|. evthread_use_pthreads() must have been
 * called first. Returns 0 or -ENOMEM.
 */
int gw_loop_init(struct gw_loop *l);

/* Starts the loop thread, which runs until gw_loop_stop(). Returns 0 or -errno. */
int gw_loop_start(struct gw_loop *l);

/* Asks the loop to exit, and joins its thread. Call from another thread. */
void gw_loop_stop(struct gw_loop *l);

/*
 * Queues |task| to run |task->cb| on the loop thread. Safe from any thread. Once the loop is
 * stopped, tasks stay queued until gw_loop_drain() runs them.
 */
void gw_loop_post(struct gw_loop *l, struct gw_task *task);

/* Runs every queued task on the calling thread. Only when the loop thread is not running. */
void gw_loop_drain(struct gw_loop *l);

/* Frees what gw_loop_init() made. Accepts a zeroed or half-built loop. */
void gw_loop_finish(struct gw_loop *l);

#endif
