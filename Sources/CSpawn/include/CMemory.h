#ifndef JUNCTION_CMEMORY_H
#define JUNCTION_CMEMORY_H

#include <malloc.h>

/* Hands the allocator's free pages back to the system. glibc keeps what a burst freed (a flood of
   event subscriptions queued by libzmq's I/O thread, say) for reuse, so without this the resident
   size never comes back down. Returns 1 when memory was returned. */
static inline int junction_return_free_memory(void) {
    return malloc_trim(0);
}

#endif
