/*
 * gw_fifo: the intrusive singly linked FIFO that gw_loop's posted tasks and gw_pool's queued work
 * share: a head and a tail pointer, items linked through their |next| member. No locking: the
 * caller holds its own mutex.
 */
#ifndef GW_FIFO_H
#define GW_FIFO_H

/* Appends |item| to the queue |head|..|tail|. */
#define GW_FIFO_PUSH(head, tail, item)                                                             \
    do {                                                                                           \
        (item)->next = NULL;                                                                       \
        if (tail)                                                                                  \
            (tail)->next = (item);                                                                 \
        else                                                                                       \
            (head) = (item);                                                                       \
        (tail) = (item);                                                                           \
    } while (0)

#endif
