#ifndef JUNCTION_CZEROMQ_SHIM_H
#define JUNCTION_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>
/* Glibc's Swift module does not export eventfd. */
#include <sys/eventfd.h>

#endif
