/*
 * gw_config_hooks.c: the notification sections of the site config: "hooks",
 * "recipients", "groups", "routes", "quiet_hours" and "inhibit_rules"
 * (gw_config_hooks.h; keys in docs/configuration.md, behaviour in
 * docs/hooks.md). Names are checked for uniqueness and every reference (a
 * recipient's hook, a group's members and escalation, a route's groups) is
 * resolved to an index here, so the notifier never meets a dangling name.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const cfgh__days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* Read an object of string values into kvs. Returns the count. */
static int cfgh__kvs(const cJSON *obj, const char *key, const char *path, gw_kv_t *kvs,
                     gw_errlist_t *el)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
    char p[256];
    int n = 0;

    if (!o)
        return 0;
    gw_json_path_key(p, sizeof(p), path, key);
    if (!cJSON_IsObject(o)) {
        gw_errlist_add(el, p, "must be an object of strings");
        return 0;
    }
    cJSON_ArrayForEach(it, o)
    {
        if (!cJSON_IsString(it) || strlen(it->string) >= sizeof(kvs->key) ||
            strlen(it->valuestring) >= sizeof(kvs->value)) {
            gw_errlist_add(el, p,
                           "\"%s\": must be a string (keys up to 63, values up to 255 bytes)",
                           it->string);
            continue;
        }
        if (n == GW_HOOK_MAX_KV) {
            gw_errlist_add(el, p, "at most %d entries", GW_HOOK_MAX_KV);
            break;
        }
        snprintf(kvs[n].key, sizeof(kvs[n].key), "%s", it->string);
        snprintf(kvs[n].value, sizeof(kvs[n].value), "%s", it->valuestring);
        n++;
    }
    return n;
}

/* Read the first line of a secret file into dst. */
static void cfgh__secret(const char *file, const char *path, char *dst, size_t len,
                         gw_errlist_t *el)
{
    FILE *f = fopen(file, "r");

    if (!f) {
        gw_errlist_add(el, path, "cannot read %s", file);
        return;
    }
    if (!fgets(dst, (int)len, f))
        dst[0] = '\0';
    fclose(f);
    dst[strcspn(dst, "\r\n")] = '\0';
    if (!dst[0])
        gw_errlist_add(el, path, "%s is empty", file);
}

static const char *const hook_keys[] = {
    "name",         "kind",       "argv",         "url",        "format",
    "fields",       "headers",    "auth",         "username",   "secret_file",
    "ca_file",      "timeout_ms", "max_attempts", "backoff_ms", "backoff_max_ms",
    "max_segments", "stdin",      "mail_from",    NULL};

/* An exec hook's stdin: the alert JSON, or a mail message (MIME) for a
 * sendmail-compatible program (docs/hooks.md, "Mail"). */
static void cfgh__hook_stdin(gw_hook_cfg_t *h, const cJSON *o, const char *path, gw_errlist_t *el)
{
    char mode[16], p[256];

    gw_json_str(o, "stdin", path, mode, sizeof(mode), "json", 0, el);
    h->stdin_mail = strcmp(mode, "mail") == 0;
    if (!h->stdin_mail && strcmp(mode, "json") != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "stdin"),
                       "must be \"json\" or \"mail\", got \"%s\"", mode);
    else if (h->stdin_mail && h->kind != GW_HOOK_EXEC)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "stdin"),
                       "\"mail\" is for exec hooks (a sendmail-compatible program)");
    gw_json_str(o, "mail_from", path, h->mail_from, sizeof(h->mail_from), "plantroom@localhost", 0,
                el);
    if (strpbrk(h->mail_from, "\r\n<>") || !strchr(h->mail_from, '@'))
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "mail_from"),
                       "must be a mail address such as plantroom@example.com");
}

static void cfgh__hook(gw_config_t *cfg, gw_hook_cfg_t *h, const cJSON *o, const char *path,
                       gw_errlist_t *el)
{
    char kind[16], fmt[16], auth[16], p[256], file[PATH_MAX];

    gw_json_check_keys(o, path, hook_keys, el);
    gw_json_str(o, "name", path, h->name, sizeof(h->name), NULL, 1, el);
    gw__cfg_check_name(h->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(o, "kind", path, kind, sizeof(kind), NULL, 1, el);
    if (strcmp(kind, "exec") == 0) {
        h->kind = GW_HOOK_EXEC;
        h->nargv =
            gw__cfg_strs(o, "argv", path, &h->argv[0][0], sizeof(h->argv[0]), GW_HOOK_MAX_ARGS, el);
        if (h->nargv == 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "argv"),
                           "an exec hook needs a non-empty argv");
    } else if (strcmp(kind, "webhook") == 0) {
        h->kind = GW_HOOK_WEBHOOK;
        gw_json_str(o, "url", path, h->url, sizeof(h->url), NULL, 1, el);
        if (h->url[0] && strncmp(h->url, "http://", 7) != 0 && strncmp(h->url, "https://", 8) != 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "url"),
                           "must start with http:// or https://");
    } else if (kind[0]) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "kind"),
                       "must be \"exec\" or \"webhook\", got \"%s\"", kind);
    }
    gw_json_str(o, "format", path, fmt, sizeof(fmt), "json", 0, el);
    h->form = strcmp(fmt, "form") == 0;
    if (!h->form && strcmp(fmt, "json") != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "format"),
                       "must be \"json\" or \"form\", got \"%s\"", fmt);
    h->nfields = cfgh__kvs(o, "fields", path, h->fields, el);
    h->nheaders = cfgh__kvs(o, "headers", path, h->headers, el);
    if (h->form && h->nfields == 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "fields"),
                       "format \"form\" needs fields");
    gw_json_str(o, "auth", path, auth, sizeof(auth), "none", 0, el);
    h->auth = strcmp(auth, "basic") == 0    ? GW_AUTH_BASIC
              : strcmp(auth, "bearer") == 0 ? GW_AUTH_BEARER
                                            : GW_AUTH_NONE;
    if (h->auth == GW_AUTH_NONE && strcmp(auth, "none") != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "auth"),
                       "must be none, basic or bearer, got \"%s\"", auth);
    gw_json_str(o, "username", path, h->username, sizeof(h->username), "", 0, el);
    if (h->auth == GW_AUTH_BASIC && !h->username[0])
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "username"),
                       "basic auth needs a username");
    if (gw_json_str(o, "secret_file", path, file, sizeof(file), "", 0, el) > 0 && file[0]) {
        char abs[PATH_MAX];
        gw__cfg_resolve(abs, sizeof(abs), cfg->config_dir, file);
        cfgh__secret(abs, gw_json_path_key(p, sizeof(p), path, "secret_file"), h->secret,
                     sizeof(h->secret), el);
    } else if (h->auth != GW_AUTH_NONE) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "secret_file"),
                       "auth \"%s\" needs a secret_file (the password or token)", auth);
    }
    if (gw_json_str(o, "ca_file", path, file, sizeof(file), "", 0, el) > 0 && file[0])
        gw__cfg_resolve(h->ca_file, sizeof(h->ca_file), cfg->config_dir, file);
    gw_json_int_to(o, "timeout_ms", path, &h->timeout_ms, 10000, 100, 600000, 0, el);
    gw_json_int_to(o, "max_attempts", path, &h->max_attempts, 10, 1, 1000, 0, el);
    gw_json_int_to(o, "backoff_ms", path, &h->backoff_ms, 5000, 10, 3600000, 0, el);
    gw_json_int_to(o, "backoff_max_ms", path, &h->backoff_max_ms, 600000, 10, 86400000, 0, el);
    cfgh__hook_stdin(h, o, path, el);
    /* an SMS is cut to 3 segments unless said otherwise; a mail is not cut */
    gw_json_int_to(o, "max_segments", path, &h->max_segments,
                   h->kind == GW_HOOK_EXEC && !h->stdin_mail ? 3 : 0, 0, 20, 0, el);
}

static const char *const recipient_keys[] = {"name", "hook", "phone", "email", "min_interval_ms",
                                             NULL};

static void cfgh__recipient(gw_recipient_cfg_t *r, const cJSON *o, const char *path,
                            gw_errlist_t *el)
{
    char p[256];

    gw_json_check_keys(o, path, recipient_keys, el);
    gw_json_str(o, "name", path, r->name, sizeof(r->name), NULL, 1, el);
    gw__cfg_check_name(r->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(o, "hook", path, r->hook, sizeof(r->hook), NULL, 1, el);
    gw_json_str(o, "phone", path, r->address, sizeof(r->address), "", 0, el);
    if (cJSON_GetObjectItemCaseSensitive(o, "email")) {
        if (r->address[0])
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "email"),
                           "a recipient has a phone or an email, not both");
        gw_json_str(o, "email", path, r->address, sizeof(r->address), "", 0, el);
        if (strpbrk(r->address, "\r\n<>,; ") || !strchr(r->address, '@'))
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "email"),
                           "must be one mail address such as boss@example.com");
    }
    gw_json_int_to(o, "min_interval_ms", path, &r->min_interval_ms, 1000, 0, 3600000, 0, el);
}

static const char *const group_keys[] = {"name",
                                         "members",
                                         "group_wait_ms",
                                         "repeat_interval_ms",
                                         "escalate_after_ms",
                                         "escalate_to",
                                         "send_resolved",
                                         NULL};

/* Members are names until resolved in cfgh__resolve: kept in a side table. */
typedef struct cfgh__names {
    char names[GW_NOTIFY_MAX][GW_NOTIFY_NAME];
    int n;
} cfgh__names_t;

static void cfgh__group(gw_group_cfg_t *g, cfgh__names_t *members, const cJSON *o, const char *path,
                        gw_errlist_t *el)
{
    char p[256];

    gw_json_check_keys(o, path, group_keys, el);
    gw_json_str(o, "name", path, g->name, sizeof(g->name), NULL, 1, el);
    gw__cfg_check_name(g->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    members->n =
        gw__cfg_strs(o, "members", path, &members->names[0][0], GW_NOTIFY_NAME, GW_NOTIFY_MAX, el);
    if (members->n == 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "members"),
                       "a group needs at least one member");
    gw_json_int_to(o, "group_wait_ms", path, &g->group_wait_ms, 30000, 0, 3600000, 0, el);
    gw_json_int_to(o, "repeat_interval_ms", path, &g->repeat_interval_ms, 4LL * 3600 * 1000, 0,
                   7LL * 86400 * 1000, 0, el);
    gw_json_int_to(o, "escalate_after_ms", path, &g->escalate_after_ms, 0, 0, 7LL * 86400 * 1000, 0,
                   el);
    gw_json_str(o, "escalate_to", path, g->escalate_to, sizeof(g->escalate_to), "", 0, el);
    gw_json_bool(o, "send_resolved", path, &g->send_resolved, 1, el);
    if (g->escalate_after_ms > 0 && !g->escalate_to[0])
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "escalate_to"),
                       "escalate_after_ms needs escalate_to");
}

static const char *const route_keys[] = {"priorities", "categories", "buildings", "devices",
                                         "groups",     "continue",   NULL};

static void cfgh__route(gw_route_cfg_t *r, cfgh__names_t *groups, const cJSON *o, const char *path,
                        gw_errlist_t *el)
{
    char p[256];

    gw_json_check_keys(o, path, route_keys, el);
    r->priorities = gw__cfg_prios(o, "priorities", path, 0, el);
    r->ncategories = gw__cfg_strs(o, "categories", path, &r->categories[0][0],
                                  sizeof(r->categories[0]), GW_NOTIFY_MAX, el);
    r->nbuildings = gw__cfg_strs(o, "buildings", path, &r->buildings[0][0], sizeof(r->buildings[0]),
                                 GW_NOTIFY_MAX, el);
    r->ndevices = gw__cfg_strs(o, "devices", path, &r->devices[0][0], sizeof(r->devices[0]),
                               GW_NOTIFY_MAX, el);
    groups->n =
        gw__cfg_strs(o, "groups", path, &groups->names[0][0], GW_NOTIFY_NAME, GW_NOTIFY_MAX, el);
    if (groups->n == 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "groups"),
                       "a route needs at least one group");
    gw_json_bool(o, "continue", path, &r->cont, 0, el);
}

static const char *const inhibit_keys[] = {"source_rules", "source_devices", "target_devices",
                                           "target_rules", NULL};

static void cfgh__inhibit(gw_inhibit_cfg_t *r, const cJSON *o, const char *path, gw_errlist_t *el)
{
    char p[256];

    gw_json_check_keys(o, path, inhibit_keys, el);
    r->nsource_rules = gw__cfg_strs(o, "source_rules", path, &r->source_rules[0][0],
                                    sizeof(r->source_rules[0]), GW_NOTIFY_MAX, el);
    r->nsource_devices = gw__cfg_strs(o, "source_devices", path, &r->source_devices[0][0],
                                      sizeof(r->source_devices[0]), GW_NOTIFY_MAX, el);
    r->ntarget_devices = gw__cfg_strs(o, "target_devices", path, &r->target_devices[0][0],
                                      sizeof(r->target_devices[0]), GW_NOTIFY_MAX, el);
    r->ntarget_rules = gw__cfg_strs(o, "target_rules", path, &r->target_rules[0][0],
                                    sizeof(r->target_rules[0]), GW_NOTIFY_MAX, el);
    if (r->nsource_rules == 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "source_rules"),
                       "an inhibit rule needs at least one source rule");
}

/* "HH:MM" or "HH:MM:SS" into seconds after midnight, or -1. */
static int cfgh__hhmm(const char *s)
{
    int h, m, sec = 0, n;
    char end;

    n = sscanf(s, "%d:%d:%d%c", &h, &m, &sec, &end);
    if ((n != 2 && n != 3) || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59)
        return -1;
    return h * 3600 + m * 60 + sec;
}

static void cfgh__quiet(gw_quiet_cfg_t *q, const cJSON *root, gw_errlist_t *el)
{
    static const char *const keys[] = {
        "start", "end", "tz", "weekdays", "bypass_priorities", "bypass_categories", NULL};
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "quiet_hours");
    char s[16], days[7][8], zone[PATH_MAX];
    struct stat st;
    int n;

    if (!o)
        return;
    if (!cJSON_IsObject(o)) {
        gw_errlist_add(el, "quiet_hours", "must be an object");
        return;
    }
    q->enabled = 1;
    gw_json_check_keys(o, "quiet_hours", keys, el);
    gw_json_str(o, "start", "quiet_hours", s, sizeof(s), NULL, 1, el);
    if (s[0] && (q->start_s = cfgh__hhmm(s)) < 0)
        gw_errlist_add(el, "quiet_hours.start", "must be \"HH:MM\" or \"HH:MM:SS\", got \"%s\"", s);
    gw_json_str(o, "end", "quiet_hours", s, sizeof(s), NULL, 1, el);
    if (s[0] && (q->end_s = cfgh__hhmm(s)) < 0)
        gw_errlist_add(el, "quiet_hours.end", "must be \"HH:MM\" or \"HH:MM:SS\", got \"%s\"", s);
    gw_json_str(o, "tz", "quiet_hours", q->tz, sizeof(q->tz), "", 0, el);
    if (q->tz[0]) {
        snprintf(zone, sizeof(zone), "/usr/share/zoneinfo/%s", q->tz);
        if (strstr(q->tz, "..") || stat(zone, &st) != 0 || !S_ISREG(st.st_mode))
            gw_errlist_add(el, "quiet_hours.tz", "unknown time zone \"%s\" (no %s; install tzdata)",
                           q->tz, zone);
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "weekdays")) {
        n = gw__cfg_strs(o, "weekdays", "quiet_hours", &days[0][0], sizeof(days[0]), 7, el);
        for (int i = 0; i < n; i++) {
            int k = 0;
            while (k < 7 && strcmp(days[i], cfgh__days[k]) != 0)
                k++;
            if (k == 7)
                gw_errlist_add(el, "quiet_hours.weekdays",
                               "must list mon, tue, wed, thu, fri, sat, sun; got \"%s\"", days[i]);
            else
                q->weekdays |= 1u << k;
        }
    } else {
        q->weekdays = 0x7f;
    }
    q->bypass_priorities =
        gw__cfg_prios(o, "bypass_priorities", "quiet_hours", 1u << GW_PRIO_CRITICAL, el);
    if (cJSON_GetObjectItemCaseSensitive(o, "bypass_categories")) {
        q->nbypass_categories =
            gw__cfg_strs(o, "bypass_categories", "quiet_hours", &q->bypass_categories[0][0],
                         sizeof(q->bypass_categories[0]), GW_NOTIFY_MAX, el);
    } else {
        snprintf(q->bypass_categories[0], sizeof(q->bypass_categories[0]), "fire");
        q->nbypass_categories = 1;
    }
}

/* Allocate room for the array root[key]; *count = its length. NULL when
 * absent or on error (added to el). */
static void *cfgh__array(const cJSON *root, const char *key, size_t size, size_t *count,
                         gw_errlist_t *el)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    void *out;

    *count = 0;
    if (!arr)
        return NULL;
    if (!cJSON_IsArray(arr)) {
        gw_errlist_add(el, key, "must be an array");
        return NULL;
    }
    out = calloc((size_t)cJSON_GetArraySize(arr) + 1, size);
    if (!out)
        gw_errlist_add(el, key, "out of memory");
    else
        *count = (size_t)cJSON_GetArraySize(arr);
    return out;
}

#define CFGH_FIND(arr, n, nm, out)                                                                 \
    do {                                                                                           \
        (out) = -1;                                                                                \
        for (size_t k_ = 0; k_ < (n); k_++)                                                        \
            if (strcmp((arr)[k_].name, (nm)) == 0)                                                 \
                (out) = (int)k_;                                                                   \
    } while (0)

static void cfgh__dups(const char *key, const char *names, size_t stride, size_t n,
                       gw_errlist_t *el)
{
    char p[64];

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names + i * stride, names + j * stride) == 0)
                gw_errlist_add(el, gw_json_path_idx(p, sizeof(p), key, (int)i),
                               "duplicate name \"%s\" (also %s[%zu])", names + i * stride, key, j);
        }
    }
}

/* Reads one element of a section; names is its row of the side table, or
 * NULL when the section has none. */
typedef void (*cfgh__elem_fn)(gw_config_t *cfg, void *elem, cfgh__names_t *names, const cJSON *o,
                              const char *path, gw_errlist_t *el);

static void cfgh__hook_fn(gw_config_t *cfg, void *e, cfgh__names_t *nm, const cJSON *o,
                          const char *p, gw_errlist_t *el)
{
    (void)nm;
    cfgh__hook(cfg, e, o, p, el);
}

static void cfgh__recipient_fn(gw_config_t *cfg, void *e, cfgh__names_t *nm, const cJSON *o,
                               const char *p, gw_errlist_t *el)
{
    (void)cfg;
    (void)nm;
    cfgh__recipient(e, o, p, el);
}

static void cfgh__group_fn(gw_config_t *cfg, void *e, cfgh__names_t *nm, const cJSON *o,
                           const char *p, gw_errlist_t *el)
{
    (void)cfg;
    cfgh__group(e, nm, o, p, el);
}

static void cfgh__route_fn(gw_config_t *cfg, void *e, cfgh__names_t *nm, const cJSON *o,
                           const char *p, gw_errlist_t *el)
{
    (void)cfg;
    cfgh__route(e, nm, o, p, el);
}

static void cfgh__inhibit_fn(gw_config_t *cfg, void *e, cfgh__names_t *nm, const cJSON *o,
                             const char *p, gw_errlist_t *el)
{
    (void)cfg;
    (void)nm;
    cfgh__inhibit(e, o, p, el);
}

/* Read the array section root[key]: returns its elements (elem_size bytes
 * each; NULL when absent or on error) and counts them in *count. A
 * non-object entry is reported and left zeroed, so that indexes match the
 * JSON paths. When names is given, a side table with a row per element is
 * allocated there for the names resolved later; without it (out of
 * memory) the elements are not read. */
static void *cfgh__section(gw_config_t *cfg, const cJSON *root, const char *key, size_t elem_size,
                           size_t *count, cfgh__names_t **names, cfgh__elem_fn fn, gw_errlist_t *el)
{
    const cJSON *it;
    char *arr, p[128];
    size_t n;

    arr = cfgh__array(root, key, elem_size, &n, el);
    if (!arr)
        return NULL;
    if (names)
        *names = calloc(n + 1, sizeof(**names));
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, key))
    {
        gw_json_path_idx(p, sizeof(p), key, (int)*count);
        if (!cJSON_IsObject(it))
            gw_errlist_add(el, p, "must be an object");
        else if (!names || *names)
            fn(cfg, arr + *count * elem_size, names ? &(*names)[*count] : NULL, it, p, el);
        (*count)++;
    }
    return arr;
}

/* A recipient's hook, by name. */
static void cfgh__resolve_recipients(gw_notify_cfg_t *n, gw_errlist_t *el)
{
    char p[128];

    for (size_t i = 0; i < n->nrecipients; i++) {
        gw_recipient_cfg_t *r = &n->recipients[i];
        CFGH_FIND(n->hooks, n->nhooks, r->hook, r->hook_idx);
        snprintf(p, sizeof(p), "recipients[%zu].hook", i);
        if (r->hook_idx < 0 && r->hook[0])
            gw_errlist_add(el, p, "no hook named \"%s\" in hooks", r->hook);
    }
}

/* A group's members (recipients) and the group it escalates to. */
static void cfgh__resolve_groups(gw_notify_cfg_t *n, const cfgh__names_t *gmembers,
                                 gw_errlist_t *el)
{
    char p[128];

    for (size_t i = 0; gmembers && i < n->ngroups; i++) {
        gw_group_cfg_t *g = &n->groups[i];
        snprintf(p, sizeof(p), "groups[%zu].members", i);
        for (int k = 0; k < gmembers[i].n; k++) {
            int idx;
            CFGH_FIND(n->recipients, n->nrecipients, gmembers[i].names[k], idx);
            if (idx < 0)
                gw_errlist_add(el, p, "no recipient named \"%s\" in recipients",
                               gmembers[i].names[k]);
            else
                g->members[g->nmembers++] = idx;
        }
        g->escalate_idx = -1;
        if (g->escalate_to[0]) {
            CFGH_FIND(n->groups, n->ngroups, g->escalate_to, g->escalate_idx);
            snprintf(p, sizeof(p), "groups[%zu].escalate_to", i);
            if (g->escalate_idx < 0)
                gw_errlist_add(el, p, "no group named \"%s\" in groups", g->escalate_to);
            else if (g->escalate_idx == (int)i)
                gw_errlist_add(el, p, "a group cannot escalate to itself");
        }
    }
}

/* A route's groups. */
static void cfgh__resolve_routes(gw_notify_cfg_t *n, const cfgh__names_t *rgroups, gw_errlist_t *el)
{
    char p[128];

    for (size_t i = 0; rgroups && i < n->nroutes; i++) {
        gw_route_cfg_t *r = &n->routes[i];
        snprintf(p, sizeof(p), "routes[%zu].groups", i);
        for (int k = 0; k < rgroups[i].n; k++) {
            int idx;
            CFGH_FIND(n->groups, n->ngroups, rgroups[i].names[k], idx);
            if (idx < 0)
                gw_errlist_add(el, p, "no group named \"%s\" in groups", rgroups[i].names[k]);
            else
                r->groups[r->ngroups++] = idx;
        }
    }
}

/* Names unique, references resolved. */
static void cfgh__resolve(gw_notify_cfg_t *n, const cfgh__names_t *gmembers,
                          const cfgh__names_t *rgroups, gw_errlist_t *el)
{
    cfgh__dups("hooks", n->hooks ? n->hooks[0].name : "", sizeof(*n->hooks), n->nhooks, el);
    cfgh__dups("recipients", n->recipients ? n->recipients[0].name : "", sizeof(*n->recipients),
               n->nrecipients, el);
    cfgh__dups("groups", n->groups ? n->groups[0].name : "", sizeof(*n->groups), n->ngroups, el);
    cfgh__resolve_recipients(n, el);
    cfgh__resolve_groups(n, gmembers, el);
    cfgh__resolve_routes(n, rgroups, el);
    if (n->nroutes && !n->ngroups)
        gw_errlist_add(el, "routes", "routes need groups");
}

void gw__cfg_notify(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    gw_notify_cfg_t *n = &cfg->notify;
    cfgh__names_t *gmembers = NULL, *rgroups = NULL;

    n->hooks =
        cfgh__section(cfg, root, "hooks", sizeof(*n->hooks), &n->nhooks, NULL, cfgh__hook_fn, el);
    n->recipients = cfgh__section(cfg, root, "recipients", sizeof(*n->recipients), &n->nrecipients,
                                  NULL, cfgh__recipient_fn, el);
    n->groups = cfgh__section(cfg, root, "groups", sizeof(*n->groups), &n->ngroups, &gmembers,
                              cfgh__group_fn, el);
    n->routes = cfgh__section(cfg, root, "routes", sizeof(*n->routes), &n->nroutes, &rgroups,
                              cfgh__route_fn, el);
    cfgh__quiet(&n->quiet, root, el);
    n->inhibits = cfgh__section(cfg, root, "inhibit_rules", sizeof(*n->inhibits), &n->ninhibits,
                                NULL, cfgh__inhibit_fn, el);
    cfgh__resolve(n, gmembers, rgroups, el);
    free(gmembers);
    free(rgroups);
}

void gw__cfg_notify_free(gw_notify_cfg_t *n)
{
    if (n->hooks)
        memset(n->hooks, 0, n->nhooks * sizeof(*n->hooks)); /* secrets */
    if (n->recipients)
        memset(n->recipients, 0, n->nrecipients * sizeof(*n->recipients));
    free(n->hooks);
    free(n->recipients);
    free(n->groups);
    free(n->routes);
    free(n->inhibits);
    memset(n, 0, sizeof(*n));
}
