#include "CZeroMQBaseline.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct peer_args {
    void *context;
    char endpoint[256];
    int count;
    int size;
};

static void *dealer_sender(void *raw) {
    struct peer_args *args = raw;
    void *dealer = zmq_socket(args->context, ZMQ_DEALER);
    int hwm = 100000;
    zmq_setsockopt(dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_connect(dealer, args->endpoint);
    char *payload = calloc(1, (size_t)args->size);
    for (int i = 0; i < args->count; i++) {
        zmq_send(dealer, payload, (size_t)args->size, 0);
    }
    free(payload);
    int linger = -1;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(dealer);
    return NULL;
}

double junction_baseline_dealer_router_throughput(const char *endpoint, int count, int size) {
    void *context = zmq_ctx_new();
    void *router = zmq_socket(context, ZMQ_ROUTER);
    int hwm = 100000, linger = 0;
    zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(router, endpoint) != 0) {
        int error = zmq_errno();
        zmq_close(router);
        zmq_ctx_term(context);
        return -(double)error;
    }
    struct peer_args args = {.context = context, .count = count, .size = size};
    size_t length = sizeof args.endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, args.endpoint, &length);

    pthread_t sender;
    pthread_create(&sender, NULL, dealer_sender, &args);
    zmq_msg_t identity, body;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    /* The clock starts at the first message so connection setup is not counted. */
    zmq_msg_recv(&identity, router, 0);
    zmq_msg_recv(&body, router, 0);
    double start = now_seconds();
    for (int i = 1; i < count; i++) {
        zmq_msg_recv(&identity, router, 0);
        zmq_msg_recv(&body, router, 0);
    }
    double elapsed = now_seconds() - start;
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
    pthread_join(sender, NULL);
    zmq_close(router);
    zmq_ctx_term(context);
    return (double)(count - 1) / elapsed;
}

static void *router_echo(void *raw) {
    struct peer_args *args = raw;
    void *router = zmq_socket(args->context, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_bind(router, args->endpoint);
    size_t length = sizeof args->endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, args->endpoint, &length);
    __atomic_store_n(&args->size, -1, __ATOMIC_RELEASE); /* tells the caller the endpoint is bound */
    zmq_msg_t identity, body;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    for (int i = 0; i < args->count; i++) {
        if (zmq_msg_recv(&identity, router, 0) < 0) break;
        if (zmq_msg_recv(&body, router, 0) < 0) break;
        zmq_msg_send(&identity, router, ZMQ_SNDMORE);
        zmq_msg_send(&body, router, 0);
    }
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
    zmq_close(router);
    return NULL;
}

int junction_baseline_round_trips(const char *endpoint, int count, int size, double *samples) {
    void *context = zmq_ctx_new();
    struct peer_args args = {.context = context, .count = count, .size = size};
    strncpy(args.endpoint, endpoint, sizeof args.endpoint - 1);
    pthread_t echo;
    pthread_create(&echo, NULL, router_echo, &args);
    while (__atomic_load_n(&args.size, __ATOMIC_ACQUIRE) != -1) {
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
    void *dealer = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(dealer, args.endpoint);
    char *payload = calloc(1, (size_t)size);
    char *reply = calloc(1, (size_t)size);
    for (int i = 0; i < count; i++) {
        double start = now_seconds();
        zmq_send(dealer, payload, (size_t)size, 0);
        if (zmq_recv(dealer, reply, (size_t)size, 0) < 0) {
            free(payload);
            free(reply);
            return -zmq_errno();
        }
        samples[i] = (now_seconds() - start) * 1e9;
    }
    free(payload);
    free(reply);
    pthread_join(echo, NULL);
    zmq_close(dealer);
    zmq_ctx_term(context);
    return 0;
}
