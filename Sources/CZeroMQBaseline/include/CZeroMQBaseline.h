#ifndef JUNCTION_CZEROMQ_BASELINE_H
#define JUNCTION_CZEROMQ_BASELINE_H

/* Plain C libzmq measurements that the Swift ZeroMQ module is compared against in the same run. */

/* Sends `count` messages of `size` bytes DEALER -> ROUTER over `endpoint` (a bindable address such
 * as "tcp://127.0.0.1:*") and returns messages per second received, or a negative errno. */
double junction_baseline_dealer_router_throughput(const char *endpoint, int count, int size);

/* Runs `count` DEALER -> ROUTER -> DEALER echo round trips of `size` bytes over `endpoint`, writing
 * each round trip's duration in nanoseconds into `samples` (room for `count`). Returns 0, or a
 * negative errno. */
int junction_baseline_round_trips(const char *endpoint, int count, int size, double *samples);

#endif
