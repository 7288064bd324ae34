/*
 * north_fifo.c: a first-in first-out queue of telemetry messages in one
 * circular byte buffer (north_int.h), for the buffers of north_buffer.c:
 * the live QoS 1 messages awaiting their PUBACK and the memory ring while
 * the broker is away. A message is copied in once (a header, its topic and
 * its payload, each NUL-terminated) and leaves from the front; the buffer
 * grows (doubling, the messages moved to its start in order) only when a
 * message does not fit, and is kept, so that in steady state nothing is
 * allocated per message (docs/performance.md, "The full pipeline").
 *
 * Layout: not wrapped, the messages lie in [head, tail); wrapped, in
 * [head, end) and then [0, tail), with tail <= head. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/north/north_int.h"

#include <stdlib.h>
#include <string.h>

#define FIFO_ALIGN 8u
#define FIFO_MIN   4096u

static size_t fifo__size(size_t topic_len, size_t payload_len)
{
    size_t n = sizeof(north_fifo_msg_t) + topic_len + 1 + payload_len + 1;
    return (n + FIFO_ALIGN - 1) & ~(size_t)(FIFO_ALIGN - 1);
}

void north__fifo_init(north_fifo_t *f)
{
    memset(f, 0, sizeof(*f));
}

void north__fifo_free(north_fifo_t *f)
{
    free(f->mem);
    memset(f, 0, sizeof(*f));
}

/* Move the messages to the start of a buffer of cap bytes. */
static int fifo__grow(north_fifo_t *f, size_t cap)
{
    char *mem = malloc(cap);
    size_t at = 0;

    if (!mem)
        return GW_ENOMEM;
    for (size_t i = 0, pos = f->head; i < f->n; i++) {
        const north_fifo_msg_t *m = (const north_fifo_msg_t *)(f->mem + pos);
        memcpy(mem + at, m, m->size);
        at += m->size;
        pos += m->size;
        if (f->wrapped && pos == f->end)
            pos = 0;
    }
    free(f->mem);
    f->mem = mem;
    f->cap = cap;
    f->head = 0;
    f->tail = at;
    f->end = 0;
    f->wrapped = 0;
    return 0;
}

/* Where a message of sz bytes goes (setting up a wrap), or -1. */
static long fifo__place(north_fifo_t *f, size_t sz)
{
    if (f->n == 0)
        f->head = f->tail = f->end = 0, f->wrapped = 0;
    if (!f->wrapped) {
        if (f->cap - f->tail >= sz)
            return (long)f->tail;
        if (f->head >= sz) { /* wrap to the start */
            f->end = f->tail;
            f->wrapped = 1;
            f->tail = 0;
            return 0;
        }
        return -1;
    }
    return f->head - f->tail >= sz ? (long)f->tail : -1;
}

int north__fifo_push(north_fifo_t *f, int64_t ts_ms, const char *topic, size_t topic_len,
                     const char *payload, size_t payload_len)
{
    size_t sz = fifo__size(topic_len, payload_len);
    north_fifo_msg_t *m;
    long at;

    f->undo_tail = f->tail;
    f->undo_end = f->end;
    f->undo_wrapped = f->wrapped;
    f->undo_bytes = f->bytes;
    at = fifo__place(f, sz);
    if (at < 0) {
        size_t cap = f->cap ? f->cap * 2 : FIFO_MIN;
        while (cap < f->cap + sz)
            cap *= 2;
        if (fifo__grow(f, cap) != 0)
            return GW_ENOMEM;
        f->undo_tail = f->tail;
        f->undo_end = f->end;
        f->undo_wrapped = f->wrapped;
        at = (long)f->tail;
    }
    m = (north_fifo_msg_t *)(f->mem + at);
    m->size = (uint32_t)sz;
    m->topic_len = (uint32_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->ts_ms = ts_ms;
    memcpy(m->text, topic, topic_len);
    m->text[topic_len] = '\0';
    memcpy(m->text + topic_len + 1, payload, payload_len);
    m->text[topic_len + 1 + payload_len] = '\0';
    f->tail = (size_t)at + sz;
    f->n++;
    f->bytes += topic_len + payload_len;
    return 0;
}

void north__fifo_drop_last(north_fifo_t *f)
{
    if (f->n == 0)
        return;
    f->tail = f->undo_tail;
    f->end = f->undo_end;
    f->wrapped = f->undo_wrapped;
    f->bytes = f->undo_bytes;
    f->n--;
}

const north_fifo_msg_t *north__fifo_front(const north_fifo_t *f)
{
    return f->n ? (const north_fifo_msg_t *)(f->mem + f->head) : NULL;
}

const north_fifo_msg_t *north__fifo_next(const north_fifo_t *f, const north_fifo_msg_t *m)
{
    size_t pos = (size_t)((const char *)m - f->mem) + m->size;

    if (f->wrapped && pos == f->end)
        pos = 0;
    return pos == f->tail ? NULL : (const north_fifo_msg_t *)(f->mem + pos);
}

void north__fifo_pop(north_fifo_t *f)
{
    const north_fifo_msg_t *m = north__fifo_front(f);

    if (!m)
        return;
    f->head += m->size;
    f->bytes -= m->topic_len + m->payload_len;
    f->n--;
    if (f->wrapped && f->head == f->end) {
        f->head = 0;
        f->end = 0;
        f->wrapped = 0;
    }
    if (f->n == 0)
        f->head = f->tail = 0;
}

void north__fifo_trim(north_fifo_t *f, size_t keep)
{
    if (f->n == 0 && f->cap > keep) {
        free(f->mem);
        f->mem = NULL;
        f->cap = f->head = f->tail = f->end = 0;
        f->wrapped = 0;
    }
}
