/* junction-advertiser: a Junction pool agent in C, for pool nodes that cannot carry a Swift
 * runtime. It speaks protocol v1 of Protocols/README.md over a ZeroMQ DEALER (CURVE when given
 * keys): it registers, advertises its capacity (from /proc and nvidia-smi, or as given),
 * heartbeats both ways, reconnects with back-off, runs dispatched jobs as local processes (each
 * in a process group of its own, killed if the agent dies), reports their ends and usage, and
 * says goodbye on SIGTERM. The messages are protobuf-c's code generated from the same .proto
 * files as the Swift side (generated/, by Protocols/generate.sh). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "junction/v1/envelope.pb-c.h"

#define MAX_JOBS 256
#define MAX_MODELS 16
#define MAX_DEVICES 64
#define MAX_ENDPOINTS 8
#define MAX_LABELS 32
#define MAX_ENDINGS 512
#define MAX_MESSAGE (16 * 1024 * 1024)

typedef Junction__V1__Envelope Envelope;

/* What the agent offers, as configured or detected. */
typedef struct {
    char *pool_id;
    char *node;
    char *endpoints[MAX_ENDPOINTS];
    int n_endpoints;
    double cpu_cores;
    uint64_t memory_bytes;
    char *models[MAX_MODELS];
    /* Device indices per model, as nvidia-smi numbers them (or 0, 1, ... in model order). */
    uint32_t devices[MAX_MODELS][MAX_DEVICES];
    int n_devices[MAX_MODELS];
    int n_models;
    char *label_keys[MAX_LABELS];
    char *label_values[MAX_LABELS];
    int n_labels;
    double speed;
    double price_core_hour;
    bool has_price;
    char *work_dir;
    char public_key[41], secret_key[41], server_key[41];
    bool curve;
} Settings;

/* A job this agent runs. */
typedef struct {
    bool used;
    char *id;
    pid_t group;
    uint64_t dispatch_sequence;
    uint32_t attempt;
    double cpu_cores;
    uint64_t memory_bytes;
    /* Whole GPUs held, by model index, and which devices. */
    int gpus[MAX_MODELS];
    uint32_t held[MAX_MODELS][MAX_DEVICES];
    bool stopping;
    double kill_at;
    double started_at;
    char folder[PATH_MAX];
    char output[PATH_MAX + 256];
} Job;

/* A job's ending, kept until the controller surely has it (sent_at 0: not yet sent). */
typedef struct {
    uint8_t *bytes;
    size_t size;
    double sent_at;
} Ending;

enum Phase { BACKING_OFF, WAITING_FOR_WELCOME, REGISTERED };

static Settings settings;
static Job jobs[MAX_JOBS];
static Ending endings[MAX_ENDINGS];
static int n_endings;
static void *context;
static void *socket_;
static int current_endpoint;
static enum Phase phase = BACKING_OFF;
static double phase_until, welcome_wait_from, last_heard, last_sent, last_advertised = -1e9;
static double heartbeat_s = 1, liveness_s = 5;
static int failures;
static uint64_t advertisement_sequence, dispatch_sequence_applied;
static char host_name[256];
static volatile sig_atomic_t stop_requested;

/* ---------------------------------------------------------------- small helpers */

static double now_s(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

static int64_t unix_ms(void) {
    struct timespec time;
    clock_gettime(CLOCK_REALTIME, &time);
    return (int64_t)time.tv_sec * 1000 + time.tv_nsec / 1000000;
}

static void say(const char *level, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *level, const char *format, ...) {
    char stamp[32];
    time_t clock = time(NULL);
    struct tm parts;
    gmtime_r(&clock, &parts);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &parts);
    fprintf(stderr, "%s %s junction-advertiser: ", stamp, level);
    va_list arguments;
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fputc('\n', stderr);
}

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *format, ...) {
    fputs("junction-advertiser: ", stderr);
    va_list arguments;
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fputc('\n', stderr);
    exit(1);
}

static char *copy(const char *text) {
    char *result = strdup(text);
    if (!result) fail("out of memory");
    return result;
}

static int model_index(const char *model, bool add) {
    for (int i = 0; i < settings.n_models; i++)
        if (strcmp(settings.models[i], model) == 0) return i;
    if (!add || settings.n_models == MAX_MODELS) return -1;
    settings.models[settings.n_models] = copy(model);
    settings.n_devices[settings.n_models] = 0;
    return settings.n_models++;
}

/* ---------------------------------------------------------------- capacity */

static void detect_memory(void) {
    FILE *file = fopen("/proc/meminfo", "r");
    if (!file) return;
    char line[256];
    unsigned long long kib;
    while (fgets(line, sizeof line, file))
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) settings.memory_bytes = (uint64_t)kib * 1024;
    fclose(file);
}

/* GPUs as `nvidia-smi --query-gpu=index,name` lists them: "0, NVIDIA H100 80GB HBM3" is
 * device 0, an H100 (vendor and family words dropped, as the Swift agent does). */
static void detect_gpus(void) {
    FILE *pipe = popen("nvidia-smi --query-gpu=index,name --format=csv,noheader 2>/dev/null", "r");
    if (!pipe) return;
    char line[512];
    while (fgets(line, sizeof line, pipe)) {
        char *comma = strchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        char *end;
        unsigned long index = strtoul(line, &end, 10);
        if (end == line || index > 1000000) continue;
        char *model = NULL, *save = NULL;
        for (char *word = strtok_r(comma + 1, " \t\r\n", &save); word; word = strtok_r(NULL, " \t\r\n", &save)) {
            if (strcmp(word, "NVIDIA") && strcmp(word, "Tesla") && strcmp(word, "GeForce")) {
                model = word;
                break;
            }
        }
        if (!model) continue;
        int m = model_index(model, true);
        if (m >= 0 && settings.n_devices[m] < MAX_DEVICES) settings.devices[m][settings.n_devices[m]++] = (uint32_t)index;
    }
    pclose(pipe);
}

/* MODEL:COUNT[,MODEL:COUNT]: devices numbered 0, 1, ... in the order given. */
static void parse_gpus(const char *text) {
    char *list = copy(text), *save = NULL;
    uint32_t next = 0;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(item, ':');
        char *end;
        long count = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == item || *end || count < 0 || count > MAX_DEVICES) fail("--gpus takes MODEL:COUNT[,MODEL:COUNT] with counts from 0 to %d; got %s", MAX_DEVICES, text);
        *colon = 0;
        int m = model_index(item, true);
        if (m < 0) fail("--gpus: at most %d models", MAX_MODELS);
        for (long i = 0; i < count && settings.n_devices[m] < MAX_DEVICES; i++) settings.devices[m][settings.n_devices[m]++] = next++;
    }
    free(list);
}

static double parse_number(const char *option, const char *text, double low, double high) {
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end || !isfinite(value) || value < low || value > high) fail("%s must be a number from %g to %g, not %s", option, low, high, text);
    return value;
}

/* A Z85 key: 40 characters given, or the `public-key:`/`secret-key:` line of a file that
 * `junction keygen` wrote. */
static bool read_key(const char *given, const char *field, char out[41]) {
    if (strlen(given) == 40 && !strchr(given, '/')) {
        memcpy(out, given, 41);
        return true;
    }
    FILE *file = fopen(given, "r");
    if (!file) return false;
    char line[256];
    bool found = false;
    size_t length = strlen(field);
    while (!found && fgets(line, sizeof line, file)) {
        if (strncmp(line, field, length) || line[length] != ':') continue;
        char *value = line + length + 1;
        while (*value == ' ') value++;
        value[strcspn(value, " \r\n")] = 0;
        if (strlen(value) == 40) {
            memcpy(out, value, 41);
            found = true;
        }
    }
    fclose(file);
    return found;
}

/* What running jobs leave free. */
static void free_capacity(double *cores, uint64_t *memory, int gpus[MAX_MODELS]) {
    *cores = settings.cpu_cores;
    *memory = settings.memory_bytes;
    for (int m = 0; m < settings.n_models; m++) gpus[m] = settings.n_devices[m];
    for (int j = 0; j < MAX_JOBS; j++) {
        if (!jobs[j].used) continue;
        *cores -= jobs[j].cpu_cores;
        *memory = *memory > jobs[j].memory_bytes ? *memory - jobs[j].memory_bytes : 0;
        for (int m = 0; m < settings.n_models; m++) gpus[m] -= jobs[j].gpus[m];
    }
    if (*cores < 0) *cores = 0;
}

/* ---------------------------------------------------------------- sending */

static bool send_bytes(const uint8_t *bytes, size_t size) {
    if (!socket_) return false;
    if (zmq_send(socket_, bytes, size, ZMQ_DONTWAIT) < 0) {
        say("warning", "could not send a message: %s", zmq_strerror(zmq_errno()));
        return false;
    }
    last_sent = now_s();
    return true;
}

/* Packs an envelope; the caller frees the bytes. */
static uint8_t *pack(Envelope *envelope, size_t *size) {
    envelope->protocol_version = 1;
    *size = junction__v1__envelope__get_packed_size(envelope);
    uint8_t *bytes = malloc(*size ? *size : 1);
    if (!bytes) fail("out of memory");
    junction__v1__envelope__pack(envelope, bytes);
    return bytes;
}

static void send_envelope(Envelope *envelope) {
    size_t size;
    uint8_t *bytes = pack(envelope, &size);
    send_bytes(bytes, size);
    free(bytes);
}

/* The resources in protobuf-c's form; free with free_resources. */
static Junction__V1__Resources *resources(double cores, uint64_t memory, const int gpus[MAX_MODELS]) {
    Junction__V1__Resources *result = malloc(sizeof *result);
    if (!result) fail("out of memory");
    junction__v1__resources__init(result);
    result->cpu_cores = cores;
    result->memory_bytes = memory;
    result->gpus = calloc((size_t)settings.n_models + 1, sizeof *result->gpus);
    if (!result->gpus) fail("out of memory");
    for (int m = 0; m < settings.n_models; m++) {
        Junction__V1__Resources__GpusEntry *entry = malloc(sizeof *entry);
        if (!entry) fail("out of memory");
        junction__v1__resources__gpus_entry__init(entry);
        entry->key = settings.models[m];
        entry->value = gpus[m] > 0 ? (uint32_t)gpus[m] : 0;
        result->gpus[result->n_gpus++] = entry;
    }
    return result;
}

static void free_resources(Junction__V1__Resources *value) {
    for (size_t i = 0; i < value->n_gpus; i++) free(value->gpus[i]);
    free(value->gpus);
    free(value);
}

static void send_register(void) {
    Junction__V1__Register message = JUNCTION__V1__REGISTER__INIT;
    message.pool_id = settings.pool_id;
    message.node = settings.node;
    message.agent_version = "junction-advertiser 1";
    message.total = resources(settings.cpu_cores, settings.memory_bytes, settings.n_devices);
    message.speed = settings.speed;
    Junction__V1__Prices price = JUNCTION__V1__PRICES__INIT;
    if (settings.has_price) {
        price.cpu_core_hour = settings.price_core_hour;
        message.price = &price;
    }
    Junction__V1__Register__LabelsEntry labels[MAX_LABELS], *label_list[MAX_LABELS];
    for (int i = 0; i < settings.n_labels; i++) {
        junction__v1__register__labels_entry__init(&labels[i]);
        labels[i].key = settings.label_keys[i];
        labels[i].value = settings.label_values[i];
        label_list[i] = &labels[i];
    }
    message.n_labels = (size_t)settings.n_labels;
    message.labels = label_list;
    Junction__V1__RunningJob running[MAX_JOBS], *running_list[MAX_JOBS];
    for (int j = 0; j < MAX_JOBS; j++) {
        if (!jobs[j].used) continue;
        Junction__V1__RunningJob *entry = &running[message.n_running_jobs];
        junction__v1__running_job__init(entry);
        entry->job_id = jobs[j].id;
        entry->state = JUNCTION__V1__JOB_STATE__JOB_STATE_RUNNING;
        entry->dispatch_sequence = jobs[j].dispatch_sequence;
        entry->attempt = jobs[j].attempt;
        running_list[message.n_running_jobs++] = entry;
    }
    message.running_jobs = running_list;
    message.dispatch_sequence_applied = dispatch_sequence_applied;
    Envelope envelope = JUNCTION__V1__ENVELOPE__INIT;
    envelope.body_case = JUNCTION__V1__ENVELOPE__BODY_REGISTER;
    envelope.register_ = &message;
    send_envelope(&envelope);
    free_resources(message.total);
    phase = WAITING_FOR_WELCOME;
    welcome_wait_from = last_heard = now_s();
    say("info", "registering pool %s with %s (%zu jobs running)", settings.pool_id, settings.endpoints[current_endpoint], message.n_running_jobs);
}

static void advertise(void) {
    if (phase != REGISTERED) return;
    double cores;
    uint64_t memory;
    int gpus[MAX_MODELS];
    free_capacity(&cores, &memory, gpus);
    Junction__V1__Advertisement message = JUNCTION__V1__ADVERTISEMENT__INIT;
    message.pool_id = settings.pool_id;
    message.sequence = ++advertisement_sequence;
    message.timestamp_ms = unix_ms();
    message.free = resources(cores, memory, gpus);
    message.total = resources(settings.cpu_cores, settings.memory_bytes, settings.n_devices);
    message.speed = settings.speed;
    Junction__V1__Advertisement__LabelsEntry labels[MAX_LABELS], *label_list[MAX_LABELS];
    for (int i = 0; i < settings.n_labels; i++) {
        junction__v1__advertisement__labels_entry__init(&labels[i]);
        labels[i].key = settings.label_keys[i];
        labels[i].value = settings.label_values[i];
        label_list[i] = &labels[i];
    }
    message.n_labels = (size_t)settings.n_labels;
    message.labels = label_list;
    message.dispatch_sequence_applied = dispatch_sequence_applied;
    for (int j = 0; j < MAX_JOBS; j++) message.running_jobs += jobs[j].used;
    Envelope envelope = JUNCTION__V1__ENVELOPE__INIT;
    envelope.body_case = JUNCTION__V1__ENVELOPE__BODY_ADVERTISEMENT;
    envelope.advertisement = &message;
    send_envelope(&envelope);
    free_resources(message.free);
    free_resources(message.total);
    last_advertised = now_s();
}

static void send_heartbeat(void) {
    Junction__V1__Heartbeat message = JUNCTION__V1__HEARTBEAT__INIT;
    message.timestamp_ms = unix_ms();
    Envelope envelope = JUNCTION__V1__ENVELOPE__INIT;
    envelope.body_case = JUNCTION__V1__ENVELOPE__BODY_HEARTBEAT;
    envelope.heartbeat = &message;
    send_envelope(&envelope);
}

static void acknowledge(const Junction__V1__Dispatch *dispatch, bool accepted, const char *reason) {
    Junction__V1__DispatchAck message = JUNCTION__V1__DISPATCH_ACK__INIT;
    message.job_id = dispatch->job_id;
    message.dispatch_sequence = dispatch->dispatch_sequence;
    message.attempt = dispatch->attempt;
    message.accepted = accepted;
    message.reason = (char *)(reason ? reason : "");
    Envelope envelope = JUNCTION__V1__ENVELOPE__INIT;
    envelope.body_case = JUNCTION__V1__ENVELOPE__BODY_DISPATCH_ACK;
    envelope.dispatch_ack = &message;
    send_envelope(&envelope);
    if (!accepted) say("notice", "refused %s: %s", dispatch->job_id, reason);
}

/* A job's new state. Endings are kept until a later session has surely seen them. `pool_fault`:
   a job that never started, for a reason of this pool's own (the controller places it elsewhere). */
static void report(const Job *job, Junction__V1__JobState state, int32_t exit_code, Junction__V1__Usage *usage, const char *text, bool pool_fault) {
    Junction__V1__JobUpdate message = JUNCTION__V1__JOB_UPDATE__INIT;
    message.pool_fault = pool_fault;
    message.job_id = job->id;
    message.state = state;
    message.exit_code = exit_code;
    message.usage = usage;
    message.message = (char *)text;
    message.timestamp_ms = unix_ms();
    message.attempt = job->attempt;
    message.output = (char *)job->output;
    Envelope envelope = JUNCTION__V1__ENVELOPE__INIT;
    envelope.body_case = JUNCTION__V1__ENVELOPE__BODY_JOB_UPDATE;
    envelope.job_update = &message;
    size_t size;
    uint8_t *bytes = pack(&envelope, &size);
    bool sent = phase == REGISTERED && send_bytes(bytes, size);
    if (state == JUNCTION__V1__JOB_STATE__JOB_STATE_RUNNING) {
        free(bytes);
        return;
    }
    if (n_endings == MAX_ENDINGS) {
        free(endings[0].bytes);
        memmove(endings, endings + 1, sizeof endings[0] * (MAX_ENDINGS - 1));
        n_endings--;
    }
    endings[n_endings++] = (Ending){bytes, size, sent ? now_s() : 0};
}

/* ---------------------------------------------------------------- jobs */

/* Whether a job could not start for this pool's own reason (its disk, its process or memory
   limits): the job itself would start elsewhere. */
static bool is_pool_fault(int error) {
    return error == ENOSPC || error == EDQUOT || error == EROFS || error == EIO || error == EAGAIN || error == ENOMEM ||
           error == EMFILE || error == ENFILE;
}

static Job *find_job(const char *id) {
    for (int j = 0; j < MAX_JOBS; j++)
        if (jobs[j].used && strcmp(jobs[j].id, id) == 0) return &jobs[j];
    return NULL;
}

/* The last non-blank line of the job's stderr, at most 200 bytes of it. */
static void stderr_tail(const Job *job, char *out, size_t size) {
    out[0] = 0;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/stderr", job->folder);
    int file = open(path, O_RDONLY | O_CLOEXEC);
    if (file < 0) return;
    char buffer[4097];
    off_t length = lseek(file, 0, SEEK_END);
    off_t from = length > 4096 ? length - 4096 : 0;
    ssize_t got = pread(file, buffer, 4096, from);
    close(file);
    if (got <= 0) return;
    buffer[got] = 0;
    while (got > 0 && isspace((unsigned char)buffer[got - 1])) buffer[--got] = 0;
    char *line = strrchr(buffer, '\n');
    line = line ? line + 1 : buffer;
    size_t n = strlen(line);
    if (n > 200) line += n - 200, n = 200;
    if (n >= size) n = size - 1;
    memcpy(out, line, n);
    out[n] = 0;
}

static void set_job_environment(const Job *job, const Junction__V1__JobSpec *spec) {
    for (size_t i = 0; i < spec->n_environment; i++) setenv(spec->environment[i]->key, spec->environment[i]->value, 1);
    setenv("JUNCTION_JOB_ID", job->id, 1);
    if (settings.n_models == 0) return;
    /* The devices the job was given, and no others (an empty list hides every GPU). */
    char devices[MAX_MODELS * MAX_DEVICES * 8] = "", models[MAX_MODELS * 64] = "";
    for (int m = 0; m < settings.n_models; m++) {
        if (job->gpus[m] == 0) continue;
        snprintf(models + strlen(models), sizeof models - strlen(models), "%s%s", models[0] ? "," : "", settings.models[m]);
        for (int d = 0; d < job->gpus[m]; d++)
            snprintf(devices + strlen(devices), sizeof devices - strlen(devices), "%s%u", devices[0] ? "," : "", job->held[m][d]);
    }
    setenv("CUDA_VISIBLE_DEVICES", devices, 1);
    setenv("NVIDIA_VISIBLE_DEVICES", devices[0] ? devices : "void", 1);
    setenv("JUNCTION_GPU_INDICES", devices, 1);
    if (models[0]) setenv("JUNCTION_GPU_MODEL", models, 1);
}

/* Starts the job in a process group of its own, in its own folder, stdout and stderr there;
 * SIGKILL reaches it when the agent dies. Returns 0, or the errno that kept it from starting. */
static int start_process(Job *job, const Junction__V1__JobSpec *spec) {
    int report_pipe[2];
    if (pipe2(report_pipe, O_CLOEXEC) < 0) return errno;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        close(report_pipe[0]);
        close(report_pipe[1]);
        return error;
    }
    if (child == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int error = 0;
        char path[PATH_MAX + 16];
        int in = open("/dev/null", O_RDONLY);
        snprintf(path, sizeof path, "%s/stdout", job->folder);
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        snprintf(path, sizeof path, "%s/stderr", job->folder);
        int err = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || chdir(job->folder) < 0) error = errno;
        if (!error && (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)) error = errno;
        if (!error) {
            set_job_environment(job, spec);
            char **argv = calloc(spec->n_arguments + 2, sizeof *argv);
            if (!argv) _exit(127);
            argv[0] = spec->command;
            for (size_t i = 0; i < spec->n_arguments; i++) argv[i + 1] = spec->arguments[i];
            execvp(spec->command, argv);
            error = errno;
        }
        ssize_t ignored = write(report_pipe[1], &error, sizeof error);
        (void)ignored;
        _exit(127);
    }
    setpgid(child, child);
    close(report_pipe[1]);
    int error = 0;
    ssize_t got;
    do got = read(report_pipe[0], &error, sizeof error);
    while (got < 0 && errno == EINTR);
    close(report_pipe[0]);
    if (got == (ssize_t)sizeof error && error != 0) {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        return error;
    }
    job->group = child;
    return 0;
}

static void release(Job *job) {
    free(job->id);
    memset(job, 0, sizeof *job);
}

static void dispatch(const Junction__V1__Dispatch *message) {
    if (message->dispatch_sequence > dispatch_sequence_applied) dispatch_sequence_applied = message->dispatch_sequence;
    Job *running = find_job(message->job_id);
    if (running) {
        /* A repeated dispatch: answered again, never run twice. */
        if (message->attempt > running->attempt) running->attempt = message->attempt;
        acknowledge(message, true, NULL);
        return;
    }
    const Junction__V1__JobSpec *spec = message->spec;
    char reason[512] = "";
    double cores;
    uint64_t memory;
    int free_gpus[MAX_MODELS];
    free_capacity(&cores, &memory, free_gpus);
    int asked[MAX_MODELS] = {0};
    Job *slot = NULL;
    for (int j = 0; j < MAX_JOBS && !slot; j++)
        if (!jobs[j].used) slot = &jobs[j];
    if (!spec || !spec->command || !spec->command[0]) {
        snprintf(reason, sizeof reason, "the job has no command");
    } else if (spec->gpu_share) {
        snprintf(reason, sizeof reason, "this agent gives whole GPUs only, not a share of one");
    } else if (!slot) {
        snprintf(reason, sizeof reason, "this agent runs at most %d jobs at once", MAX_JOBS);
    } else if (spec->resources && (!isfinite(spec->resources->cpu_cores) || spec->resources->cpu_cores < 0)) {
        snprintf(reason, sizeof reason, "cpu_cores must be a finite number of at least 0");
    } else if (spec->resources && spec->resources->cpu_cores > cores + 1e-9) {
        snprintf(reason, sizeof reason, "%g cores free, %g asked", cores, spec->resources->cpu_cores);
    } else if (spec->resources && spec->resources->memory_bytes > memory) {
        snprintf(reason, sizeof reason, "%llu MiB free, %llu MiB asked", (unsigned long long)(memory >> 20), (unsigned long long)(spec->resources->memory_bytes >> 20));
    } else if (spec->resources) {
        for (size_t i = 0; i < spec->resources->n_gpus && !reason[0]; i++) {
            const Junction__V1__Resources__GpusEntry *entry = spec->resources->gpus[i];
            if (entry->value == 0) continue;
            int m = model_index(entry->key, false);
            int available = m < 0 ? 0 : free_gpus[m];
            if (m < 0 || (int64_t)entry->value > available) {
                snprintf(reason, sizeof reason, "%d %s free, %u asked", available, entry->key, entry->value);
            } else {
                asked[m] = (int)entry->value;
            }
        }
    }
    if (reason[0]) {
        acknowledge(message, false, reason);
        return;
    }
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    slot->id = copy(message->job_id);
    slot->dispatch_sequence = message->dispatch_sequence;
    slot->attempt = message->attempt;
    slot->cpu_cores = spec->resources ? spec->resources->cpu_cores : 0;
    slot->memory_bytes = spec->resources ? spec->resources->memory_bytes : 0;
    /* Whole GPUs, the lowest-numbered free devices first. */
    for (int m = 0; m < settings.n_models; m++) {
        for (int d = 0; d < settings.n_devices[m] && slot->gpus[m] < asked[m]; d++) {
            uint32_t device = settings.devices[m][d];
            bool taken = false;
            for (int j = 0; j < MAX_JOBS && !taken; j++)
                for (int k = 0; jobs[j].used && &jobs[j] != slot && k < jobs[j].gpus[m]; k++)
                    if (jobs[j].held[m][k] == device) taken = true;
            if (!taken) slot->held[m][slot->gpus[m]++] = device;
        }
    }
    acknowledge(message, true, NULL);
    char name[256];
    snprintf(name, sizeof name, "%s", message->job_id);
    for (char *c = name; *c; c++)
        if (*c == '/') *c = '_';
    snprintf(slot->folder, sizeof slot->folder, "%s/%s", settings.work_dir, name);
    snprintf(slot->output, sizeof slot->output, "%s:%s", host_name, slot->folder);
    int error = mkdir(slot->folder, 0755) < 0 && errno != EEXIST ? errno : 0;
    if (!error) error = start_process(slot, spec);
    if (error) {
        char text[512];
        snprintf(text, sizeof text, "could not start: cannot start %s: %s", spec->command, strerror(error));
        report(slot, JUNCTION__V1__JOB_STATE__JOB_STATE_FAILED, -1, NULL, text, is_pool_fault(error));
        release(slot);
        advertise();
        return;
    }
    slot->started_at = now_s();
    say("info", "running %s (attempt %u) along %zu nodes", slot->id, slot->attempt, message->n_path);
    report(slot, JUNCTION__V1__JOB_STATE__JOB_STATE_RUNNING, 0, NULL, "", false);
    advertise();
}

static void stop_job(Job *job, double grace_s) {
    job->stopping = true;
    kill(-job->group, SIGTERM);
    job->kill_at = now_s() + (grace_s > 0 ? grace_s : 10);
}

/* Reports every job that ended. */
static void reap(void) {
    int status;
    struct rusage usage;
    pid_t pid;
    while ((pid = wait4(-1, &status, WNOHANG, &usage)) > 0) {
        Job *job = NULL;
        for (int j = 0; j < MAX_JOBS && !job; j++)
            if (jobs[j].used && jobs[j].group == pid) job = &jobs[j];
        if (!job) continue;
        /* The leader is gone; any of its children still in the group go with it. */
        kill(-pid, SIGKILL);
        double wall = now_s() - job->started_at;
        int gpus = 0;
        for (int m = 0; m < settings.n_models; m++) gpus += job->gpus[m];
        Junction__V1__Usage used = JUNCTION__V1__USAGE__INIT;
        used.wall_seconds = wall;
        used.core_seconds = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
        used.gpu_seconds = wall * gpus;
        int32_t code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        Junction__V1__JobState state = job->stopping ? JUNCTION__V1__JOB_STATE__JOB_STATE_CANCELLED
            : code == 0 ? JUNCTION__V1__JOB_STATE__JOB_STATE_SUCCEEDED : JUNCTION__V1__JOB_STATE__JOB_STATE_FAILED;
        char text[PATH_MAX + 1024] = "", tail[256];
        if (code < 0) snprintf(text, sizeof text, "killed by signal %d", -code);
        if (state == JUNCTION__V1__JOB_STATE__JOB_STATE_FAILED) {
            stderr_tail(job, tail, sizeof tail);
            if (tail[0]) snprintf(text + strlen(text), sizeof text - strlen(text), "%sits stderr ends \"%s\"", text[0] ? "; " : "", tail);
            snprintf(text + strlen(text), sizeof text - strlen(text), "%sall of it in %s/stderr", text[0] ? "; " : "", job->output);
        }
        say("info", "%s ended with %d", job->id, code);
        report(job, state, code, &used, text, false);
        release(job);
        advertise();
    }
}

/* ---------------------------------------------------------------- the session */

static void close_socket(void) {
    if (!socket_) return;
    zmq_close(socket_);
    socket_ = NULL;
}

static void open_socket(void) {
    close_socket();
    socket_ = zmq_socket(context, ZMQ_DEALER);
    if (!socket_) fail("cannot open a socket: %s", zmq_strerror(zmq_errno()));
    int linger = 200, immediate = 0, interval = 250, interval_max = 1000;
    int64_t max_message = MAX_MESSAGE;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket_, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(socket_, ZMQ_RECONNECT_IVL, &interval, sizeof interval);
    zmq_setsockopt(socket_, ZMQ_RECONNECT_IVL_MAX, &interval_max, sizeof interval_max);
    zmq_setsockopt(socket_, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message);
    if (settings.curve) {
        zmq_setsockopt(socket_, ZMQ_CURVE_SERVERKEY, settings.server_key, 40);
        zmq_setsockopt(socket_, ZMQ_CURVE_PUBLICKEY, settings.public_key, 40);
        zmq_setsockopt(socket_, ZMQ_CURVE_SECRETKEY, settings.secret_key, 40);
    }
    if (zmq_connect(socket_, settings.endpoints[current_endpoint]) < 0)
        fail("cannot connect to %s: %s", settings.endpoints[current_endpoint], zmq_strerror(zmq_errno()));
}

/* Endings sent within the last liveness window may have been lost with the session. */
static void session_lost(void) {
    double now = now_s();
    int kept = 0;
    for (int i = 0; i < n_endings; i++) {
        if (endings[i].sent_at == 0 || now - endings[i].sent_at <= liveness_s + 1) {
            endings[i].sent_at = 0;
            endings[kept++] = endings[i];
        } else {
            free(endings[i].bytes);
        }
    }
    n_endings = kept;
}

/* Waits before the next session: 0.5 s doubling to 4 s, or 0.5 s when the controller answered. */
static void back_off(const char *reason, bool answered, int next_endpoint) {
    session_lost();
    double delay = answered ? 0.5 : fmin(4, 0.5 * (double)(1 << (failures < 4 ? failures : 4)));
    if (!answered) failures++;
    phase = BACKING_OFF;
    phase_until = now_s() + delay;
    current_endpoint = next_endpoint;
    say("warning", "%s; reconnecting to %s in %g s", reason, settings.endpoints[current_endpoint], delay);
}

static void welcome(const Junction__V1__Welcome *message) {
    phase = REGISTERED;
    failures = 0;
    if (message->heartbeat_interval_ms > 0) heartbeat_s = message->heartbeat_interval_ms / 1000.0;
    if (message->liveness_ms > 0) liveness_s = message->liveness_ms / 1000.0;
    advertisement_sequence = 0;
    say("info", "registered pool %s at node %s (session %llu)", settings.pool_id, message->node, (unsigned long long)message->session_id);
    for (size_t i = 0; i < message->n_stop_jobs; i++) {
        Job *job = find_job(message->stop_jobs[i]);
        if (job) {
            say("notice", "stopping %s: the controller placed it elsewhere", job->id);
            stop_job(job, 10);
        }
    }
    double now = now_s();
    for (int i = 0; i < n_endings; i++)
        if (endings[i].sent_at == 0 && send_bytes(endings[i].bytes, endings[i].size)) endings[i].sent_at = now;
    advertise();
}

static void controller_error(const Junction__V1__ErrorReply *error) {
    const char *text = error->message ? error->message : "";
    switch (error->code) {
    case JUNCTION__V1__ERROR_CODE__ERROR_CODE_NOT_REGISTERED:
        if (phase == REGISTERED) {
            say("notice", "the controller does not know this session; registering again");
            session_lost();
            send_register();
        }
        return;
    case JUNCTION__V1__ERROR_CODE__ERROR_CODE_NOT_LEADER: {
        /* A standby: to the leader it names if that is one of ours, else the next one. */
        int next = (current_endpoint + 1) % settings.n_endpoints;
        if (error->leader && error->leader->pools)
            for (int i = 0; i < settings.n_endpoints; i++)
                if (strcmp(settings.endpoints[i], error->leader->pools) == 0) next = i;
        char reason[600];
        snprintf(reason, sizeof reason, "the controller stands by (%s)", text);
        back_off(reason, true, next);
        return;
    }
    case JUNCTION__V1__ERROR_CODE__ERROR_CODE_CONFLICT:
        if (phase != REGISTERED) {
            /* The controller still hears this pool's previous session (a quick restart). */
            char reason[600];
            snprintf(reason, sizeof reason, "the controller still has this pool's previous session (%s)", text);
            back_off(reason, true, current_endpoint);
            return;
        }
        break;
    case JUNCTION__V1__ERROR_CODE__ERROR_CODE_UNAUTHORIZED:
    case JUNCTION__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_POOL:
    case JUNCTION__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST:
        if (phase != REGISTERED) {
            say("error", "the controller refuses pool %s: %s; stopping", settings.pool_id, text);
            stop_requested = 2;
            return;
        }
        break;
    default:
        break;
    }
    say("warning", "the controller reports an error: %s", text);
}

static void receive(const uint8_t *bytes, size_t size) {
    Envelope *envelope = junction__v1__envelope__unpack(NULL, size, bytes);
    if (!envelope) {
        say("warning", "dropped an undecodable message from the controller (%zu bytes)", size);
        return;
    }
    last_heard = now_s();
    if (envelope->protocol_version != 1) {
        say("warning", "dropped a message of protocol version %u", envelope->protocol_version);
    } else {
        switch (envelope->body_case) {
        case JUNCTION__V1__ENVELOPE__BODY_WELCOME:
            welcome(envelope->welcome);
            break;
        case JUNCTION__V1__ENVELOPE__BODY_HEARTBEAT:
            break;
        case JUNCTION__V1__ENVELOPE__BODY_DISPATCH:
            if (phase == REGISTERED) dispatch(envelope->dispatch);
            break;
        case JUNCTION__V1__ENVELOPE__BODY_CANCEL_JOB: {
            Job *job = find_job(envelope->cancel_job->job_id);
            if (job) stop_job(job, envelope->cancel_job->grace_s);
            break;
        }
        case JUNCTION__V1__ENVELOPE__BODY_GOODBYE: {
            char reason[600];
            snprintf(reason, sizeof reason, "the controller said goodbye: %s", envelope->goodbye->reason);
            back_off(reason, false, (current_endpoint + 1) % settings.n_endpoints);
            break;
        }
        case JUNCTION__V1__ENVELOPE__BODY_ERROR:
            controller_error(envelope->error);
            break;
        default:
            say("warning", "ignored a message of kind %d from the controller", (int)envelope->body_case);
        }
    }
    junction__v1__envelope__free_unpacked(envelope, NULL);
}

static void tick(void) {
    double now = now_s();
    for (int j = 0; j < MAX_JOBS; j++)
        if (jobs[j].used && jobs[j].kill_at > 0 && now >= jobs[j].kill_at) {
            kill(-jobs[j].group, SIGKILL);
            jobs[j].kill_at = 0;
        }
    switch (phase) {
    case BACKING_OFF:
        if (now >= phase_until) {
            open_socket();
            send_register();
        }
        break;
    case WAITING_FOR_WELCOME:
        if (now - welcome_wait_from > liveness_s) back_off("no welcome from the controller", false, (current_endpoint + 1) % settings.n_endpoints);
        break;
    case REGISTERED:
        if (now - last_heard > liveness_s) {
            char reason[128];
            snprintf(reason, sizeof reason, "the controller has been silent for %.1f s", now - last_heard);
            back_off(reason, false, (current_endpoint + 1) % settings.n_endpoints);
        } else if (now - last_advertised >= 5) {
            advertise();
        } else if (now - last_sent >= heartbeat_s) {
            send_heartbeat();
        }
        break;
    }
}

/* Stops every job (SIGTERM, SIGKILL after 5 s) and says goodbye: the controller places them
 * again at once, and none runs on here. */
static void shut_down(void) {
    for (int j = 0; j < MAX_JOBS; j++)
        if (jobs[j].used) stop_job(&jobs[j], 5);
    double deadline = now_s() + 6;
    for (;;) {
        reap();
        bool any = false;
        for (int j = 0; j < MAX_JOBS; j++) any |= jobs[j].used;
        if (!any || now_s() > deadline) break;
        tick();
        usleep(20000);
    }
    if (socket_ && phase == REGISTERED) {
        Junction__V1__Goodbye message = JUNCTION__V1__GOODBYE__INIT;
        message.reason = "agent shutting down";
        Envelope envelope = JUNCTION__V1__ENVELOPE__INIT;
        envelope.body_case = JUNCTION__V1__ENVELOPE__BODY_GOODBYE;
        envelope.goodbye = &message;
        send_envelope(&envelope);
        say("info", "said goodbye");
    }
    close_socket();
    zmq_ctx_term(context);
}

static void on_signal(int number) {
    (void)number;
    stop_requested = 1;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *out) {
    fputs("usage: junction-advertiser --id POOL [--node NODE] [--pools ENDPOINT[,ENDPOINT]]\n"
          "         [--cpu CORES] [--memory-gib GIB] [--gpus MODEL:COUNT[,MODEL:COUNT]]\n"
          "         [--label KEY=VALUE]... [--speed X] [--price-core-hour P]\n"
          "         [--work-dir DIR] [--key FILE --server-key KEY|FILE]\n"
          "\n"
          "A Junction pool agent: advertises this machine's capacity to the controller's pools\n"
          "endpoint (default $JUNCTION_POOLS, else tcp://127.0.0.1:7410) and runs the jobs it sends,\n"
          "each in a folder of its own under --work-dir (default /tmp/junction-jobs/POOL).\n"
          "Without --cpu and --memory-gib, capacity is read from /proc; without --gpus, GPUs from\n"
          "nvidia-smi where present. With --key (a key pair file from junction keygen) and\n"
          "--server-key (the controller's public key), the session runs CURVE.\n",
          out);
}

int main(int argc, char **argv) {
    const char *pools = getenv("JUNCTION_POOLS");
    const char *key_file = getenv("JUNCTION_KEY"), *server_key = getenv("JUNCTION_SERVER_KEY");
    const char *gpus = NULL;
    bool cpu_given = false, memory_given = false;
    settings.node = "";
    for (int i = 1; i < argc; i++) {
        const char *option = argv[i];
        if (!strcmp(option, "--help") || !strcmp(option, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            fail("%s needs a value", option);
        }
        const char *value = argv[++i];
        if (!strcmp(option, "--id")) settings.pool_id = copy(value);
        else if (!strcmp(option, "--node")) settings.node = copy(value);
        else if (!strcmp(option, "--pools")) pools = value;
        else if (!strcmp(option, "--cpu")) settings.cpu_cores = parse_number(option, value, 0, 1e7), cpu_given = true;
        else if (!strcmp(option, "--memory-gib")) settings.memory_bytes = (uint64_t)(parse_number(option, value, 0, 1e9) * 1073741824.0), memory_given = true;
        else if (!strcmp(option, "--gpus")) gpus = value;
        else if (!strcmp(option, "--speed")) settings.speed = parse_number(option, value, 1e-6, 1e6);
        else if (!strcmp(option, "--price-core-hour")) settings.price_core_hour = parse_number(option, value, 0, 1e9), settings.has_price = true;
        else if (!strcmp(option, "--work-dir")) settings.work_dir = copy(value);
        else if (!strcmp(option, "--key")) key_file = value;
        else if (!strcmp(option, "--server-key")) server_key = value;
        else if (!strcmp(option, "--label")) {
            const char *equals = strchr(value, '=');
            if (!equals || equals == value) fail("--label takes KEY=VALUE; got %s", value);
            if (settings.n_labels == MAX_LABELS) fail("at most %d labels", MAX_LABELS);
            settings.label_keys[settings.n_labels] = strndup(value, (size_t)(equals - value));
            settings.label_values[settings.n_labels++] = copy(equals + 1);
        } else {
            usage(stderr);
            fail("unknown option %s", option);
        }
    }
    if (!settings.pool_id || !settings.pool_id[0]) {
        usage(stderr);
        fail("--id is required: the pool's id");
    }
    char *endpoints = copy(pools && pools[0] ? pools : "tcp://127.0.0.1:7410"), *save = NULL;
    for (char *endpoint = strtok_r(endpoints, ",", &save); endpoint; endpoint = strtok_r(NULL, ",", &save)) {
        if (settings.n_endpoints == MAX_ENDPOINTS) fail("--pools: at most %d endpoints", MAX_ENDPOINTS);
        if (strncmp(endpoint, "tcp://", 6) && strncmp(endpoint, "ipc://", 6)) fail("--pools: %s is not a tcp:// or ipc:// endpoint", endpoint);
        settings.endpoints[settings.n_endpoints++] = endpoint;
    }
    if (!cpu_given) settings.cpu_cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    if (!memory_given) detect_memory();
    if (gpus) parse_gpus(gpus);
    else detect_gpus();
    if ((key_file && key_file[0]) != (server_key && server_key[0])) fail("give both --key and --server-key (or JUNCTION_KEY and JUNCTION_SERVER_KEY)");
    if (key_file && key_file[0]) {
        if (!read_key(key_file, "secret-key", settings.secret_key) || !read_key(key_file, "public-key", settings.public_key))
            fail("%s holds no public-key and secret-key lines: give the key pair file junction keygen wrote", key_file);
        if (!read_key(server_key, "public-key", settings.server_key)) fail("--server-key %s is neither 40 characters of Z85 nor a file with a public-key line", server_key);
        settings.curve = true;
    }
    if (!settings.work_dir) settings.work_dir = copy("/tmp/junction-jobs");
    char folder[PATH_MAX];
    snprintf(folder, sizeof folder, "%s/%s", settings.work_dir, settings.pool_id);
    for (char *slash = folder + 1; *slash; slash++)
        if (*slash == '/') {
            *slash = 0;
            mkdir(folder, 0755);
            *slash = '/';
        }
    if (mkdir(folder, 0755) < 0 && errno != EEXIST) fail("cannot make the work directory %s: %s", folder, strerror(errno));
    settings.work_dir = copy(folder);
    gethostname(host_name, sizeof host_name - 1);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A parent may have left them blocked (one that reads signals from a signalfd does). */
    sigset_t stopping;
    sigemptyset(&stopping);
    sigaddset(&stopping, SIGTERM);
    sigaddset(&stopping, SIGINT);
    sigprocmask(SIG_UNBLOCK, &stopping, NULL);

    context = zmq_ctx_new();
    if (!context) fail("cannot start ZeroMQ: %s", zmq_strerror(zmq_errno()));
    printf("pool %s: %g cores, %g GiB", settings.pool_id, settings.cpu_cores, (double)settings.memory_bytes / 1073741824.0);
    for (int m = 0; m < settings.n_models; m++) printf("%s%d×%s", m ? ", " : ", GPUs ", settings.n_devices[m], settings.models[m]);
    printf("; controller %s\n", pools && pools[0] ? pools : "tcp://127.0.0.1:7410");
    fflush(stdout);

    open_socket();
    send_register();
    uint8_t *buffer = malloc(MAX_MESSAGE);
    if (!buffer) fail("out of memory");
    while (!stop_requested) {
        zmq_pollitem_t items[1] = {{socket_, 0, ZMQ_POLLIN, 0}};
        int ready = socket_ ? zmq_poll(items, 1, 100) : (usleep(100000), 0);
        if (ready > 0 && (items[0].revents & ZMQ_POLLIN)) {
            for (int n = 0; n < 64 && socket_; n++) {
                int size = zmq_recv(socket_, buffer, MAX_MESSAGE, ZMQ_DONTWAIT);
                if (size < 0) break;
                if (size > MAX_MESSAGE) {
                    say("warning", "dropped a message of %d bytes", size);
                    continue;
                }
                receive(buffer, (size_t)size);
                if (stop_requested) break;
            }
        }
        reap();
        tick();
    }
    free(buffer);
    int refused = stop_requested == 2;
    shut_down();
    return refused ? 1 : 0;
}
