#ifndef JUNCTION_CZEROMQ_SHIM_H
#define JUNCTION_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>
/* Glibc's Swift module does not export eventfd. */
#include <sys/eventfd.h>
#include <sys/prctl.h>

/* Names the calling thread as the system shows it (ps -L, top -H, /proc); prctl is variadic,
   which Swift cannot call. Names longer than 15 bytes are cut. */
static inline void junction_name_thread(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

#endif
