/*
 * review-clerks: N verification clerks working the queue through the API, as the web
 * application does, each on one kept-alive HTTP/2 connection (client/pu_h2), so that what is
 * measured is the gateway and PostgreSQL rather than the start of a client process per request.
 *
 *   review-clerks --server URL --tokens FILE [--abandon-every K] [--idle-exit SEC]
 *                 [--think-ms T] --out FILE
 *
 * FILE holds one bearer token per line, one clerk each. Every clerk loops: POST
 * /v1/review/claim, then POST /v1/review/{id}/decision (8 in 10 accept, then retake, then reject
 * "ilegible") after looking at it for 0.5 T to 1.5 T ms, except every K-th claim overall, which is
 * abandoned so its lease must expire. A clerk stops after --idle-exit seconds of empty claims
 * (204). Each claim is written to --out as "photo_id<TAB>clerk<TAB>unix time<TAB>round trip ms"; a
 * JSON summary goes to stdout.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "gw_cli.h"
#include "pu_h2.h"

struct shared {
    struct pu_url url;
    struct pu_h2_opts opts;
    int abandon_every;
    int think_ms; /* a clerk looks at each photo for 0.5x..1.5x this long before deciding */
    double idle_exit_s;
    FILE *out;
    pthread_mutex_t mu;
    atomic_int claims, decisions, abandoned, errors;
    double *rtt;
    size_t nrtt, caprtt;
};

struct clerk {
    struct shared *sh;
    int id;
    char auth[600];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request on |c|; returns the status (0 on failure) with the body in |q|. */
static int call(struct pu_h2_conn *c, struct pu_h2_request *q, const char *path, const char *auth,
                const char *body)
{
    memset(q, 0, sizeof(*q));
    q->method = "POST";
    q->path = path;
    q->headers[0] = (struct pu_h2_header){"authorization", auth};
    q->nheaders = 1;
    q->body_fd = -1;
    if (body) {
        q->headers[1] = (struct pu_h2_header){"content-type", "application/json"};
        q->nheaders = 2;
        q->body = body;
        q->body_len = strlen(body);
    }
    if (pu_h2_submit(c, q) < 0 || pu_h2_run(c) < 0 || q->error)
        return 0;
    return q->status;
}

static void *clerk_main(void *arg)
{
    struct clerk *k = arg;
    struct shared *sh = k->sh;
    struct pu_h2_conn *c = NULL;
    struct pu_h2_request q;
    double idle_since = 0;
    char why[256];
    int n = 0;

    if (pu_h2_connect(&sh->url, &sh->opts, &c, why, sizeof(why)) < 0) {
        fprintf(stderr, "review-clerks: connect: %s\n", why);
        atomic_fetch_add(&sh->errors, 1);
        return NULL;
    }
    for (;;) {
        double t0 = now_s(), dt;
        int status = call(c, &q, "/v1/review/claim", k->auth, NULL);
        json_t *doc;
        const char *pid, *lease;
        char path[128], body[256];
        int nth;

        dt = now_s() - t0;
        if (status == 204) {
            pu_h2_request_finish(&q);
            if (idle_since == 0)
                idle_since = now_s();
            if (now_s() - idle_since > sh->idle_exit_s)
                break;
            usleep(200000);
            continue;
        }
        idle_since = 0;
        doc = status == 200 ? json_loads(q.resp_body, 0, NULL) : NULL;
        pid = json_string_value(json_object_get(doc, "photo_id"));
        lease = json_string_value(json_object_get(doc, "lease_token"));
        if (!pid || !lease) {
            fprintf(stderr, "review-clerks: claim %d: %.200s\n", status,
                    q.resp_body ? q.resp_body : "");
            atomic_fetch_add(&sh->errors, 1);
            json_decref(doc);
            pu_h2_request_finish(&q);
            if (!pu_h2_usable(c))
                break;
            continue;
        }
        nth = atomic_fetch_add(&sh->claims, 1) + 1;
        pthread_mutex_lock(&sh->mu);
        fprintf(sh->out, "%s\t%d\t%.6f\t%.3f\n", pid, k->id, wall_s(), dt * 1e3);
        if (sh->nrtt == sh->caprtt) {
            double *g = realloc(sh->rtt, (sh->caprtt = sh->caprtt * 2 + 1024) * sizeof(*g));

            if (g)
                sh->rtt = g;
        }
        if (sh->nrtt < sh->caprtt)
            sh->rtt[sh->nrtt++] = dt * 1e3;
        pthread_mutex_unlock(&sh->mu);
        if (sh->abandon_every > 0 && nth % sh->abandon_every == 7 % sh->abandon_every) {
            atomic_fetch_add(&sh->abandoned, 1); /* the laptop died: the lease must expire */
            json_decref(doc);
            pu_h2_request_finish(&q);
            continue;
        }
        n++;
        if (sh->think_ms > 0) {
            unsigned seed = (unsigned)(k->id * 7919 + n);

            usleep((useconds_t)(sh->think_ms * 500 + rand_r(&seed) % (sh->think_ms * 1000 + 1)));
        }
        snprintf(path, sizeof(path), "/v1/review/%s/decision", pid);
        if (n % 10 == 8)
            snprintf(body, sizeof(body), "{\"lease_token\":\"%s\",\"decision\":\"retake\"}", lease);
        else if (n % 10 == 9)
            snprintf(body, sizeof(body),
                     "{\"lease_token\":\"%s\",\"decision\":\"reject\",\"reason\":\"ilegible\"}",
                     lease);
        else
            snprintf(body, sizeof(body), "{\"lease_token\":\"%s\",\"decision\":\"accept\"}", lease);
        json_decref(doc);
        pu_h2_request_finish(&q);
        status = call(c, &q, path, k->auth, body);
        if (status == 200) {
            atomic_fetch_add(&sh->decisions, 1);
        } else {
            fprintf(stderr, "review-clerks: decision %d: %.200s\n", status,
                    q.resp_body ? q.resp_body : "");
            atomic_fetch_add(&sh->errors, 1);
        }
        pu_h2_request_finish(&q);
        if (!pu_h2_usable(c))
            break;
    }
    pu_h2_conn_free(c);
    return NULL;
}

static const char usage[] =
    "usage: review-clerks --server URL --tokens FILE --out FILE [--abandon-every K]"
    " [--idle-exit SEC]\n"
    "                     [--think-ms T]\n";

/* --idle-exit SEC: a positive number of seconds, fractions allowed. */
static int parse_seconds(void *value, const char *arg)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0)) {
        fprintf(stderr, "review-clerks: --idle-exit must be a number of seconds\n");
        return -EINVAL;
    }
    *(double *)value = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct shared sh = {.abandon_every = 0, .idle_exit_s = 5};
    const char *server = NULL, *tokens = NULL, *out = NULL, *why;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("server", &server, NULL, NULL),
        GW_CLI_OPT_STRING("tokens", &tokens, NULL, NULL),
        {.name = "abandon-every", .kind = GW_CLI_INT, .value = &sh.abandon_every, .hi = INT_MAX},
        {.name = "idle-exit",
         .kind = GW_CLI_CALL,
         .value = &sh.idle_exit_s,
         .arg = "SEC",
         .call = parse_seconds},
        GW_CLI_OPT_STRING("out", &out, NULL, NULL),
        {.name = "think-ms", .kind = GW_CLI_INT, .value = &sh.think_ms, .hi = INT_MAX / 1000},
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "review-clerks", .usage = usage, .opts = opts};
    struct clerk *clerks = NULL;
    pthread_t *th;
    char line[512];
    int n = 0, o;
    double t0, wall;
    FILE *f;

    signal(SIGPIPE, SIG_IGN); /* a TLS peer that closes under a write (pu_h2.h) */

    pu_h2_opts_default(&sh.opts);
    o = gw_cli_parse(&cli, argc, argv, NULL);
    if (o != 0)
        return gw_cli_exit(o);
    if (!server || !tokens || !out || pu_url_parse(server, &sh.url, &why) < 0)
        return 2;
    f = fopen(tokens, "r");
    sh.out = fopen(out, "w");
    if (!f || !sh.out)
        return 1;
    while (fgets(line, sizeof(line), f)) {
        struct clerk *g = realloc(clerks, (size_t)(n + 1) * sizeof(*g));

        line[strcspn(line, "\n")] = '\0';
        if (!g || !line[0])
            continue;
        clerks = g;
        clerks[n].sh = &sh;
        clerks[n].id = n;
        snprintf(clerks[n].auth, sizeof(clerks[n].auth), "Bearer %s", line);
        n++;
    }
    fclose(f);
    pthread_mutex_init(&sh.mu, NULL);
    th = calloc((size_t)n, sizeof(*th));
    t0 = now_s();
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, clerk_main, &clerks[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    wall = now_s() - t0;
    fclose(sh.out);
    bench_stats_sort(sh.rtt, sh.nrtt);
#define PCT(p) bench_stats_pct(sh.rtt, sh.nrtt, (p))
    printf("{\"clerks\":%d,\"claims\":%d,\"decisions\":%d,\"abandoned\":%d,\"errors\":%d,"
           "\"think_ms\":%d,\"wall_s\":%.1f,\"claim_roundtrip_ms\":{\"p50\":%.2f,\"p99\":%.2f,"
           "\"max\":%.2f}}\n",
           n, sh.claims, sh.decisions, sh.abandoned, sh.errors, sh.think_ms, wall, PCT(50), PCT(99),
           PCT(100));
    free(th);
    free(clerks);
    free(sh.rtt);
    return sh.errors ? 1 : 0;
}
