/*
 * notify_text.c: what a hook is given besides the message text (notify_int.h;
 * design in docs/hooks.md "The message"): the alert JSON every hook
 * receives (for a report, the environment's copy without its text and
 * HTML), the "{name}" placeholders of hook templates, and a webhook's
 * body. The message text itself is gw_notify_format (gw_route.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JSON every hook receives (no phone numbers in it). */
cJSON *notify__alerts_json(gw_notify_t *n, const char *group, const gw_nitem_t *items,
                           const notify_alert_t *const *alerts, size_t k)
{
    cJSON *o = cJSON_CreateObject(), *arr;

    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", n->cfg->site_id);
    cJSON_AddStringToObject(o, "site_name", n->cfg->site_name);
    cJSON_AddStringToObject(o, "group", group);
    cJSON_AddNumberToObject(o, "count", (double)k);
    arr = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < k; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "event", gw_nkind_name(items[i].kind));
        cJSON_AddStringToObject(a, "id", alerts[i]->wo_id);
        cJSON_AddNumberToObject(a, "number", (double)alerts[i]->number);
        cJSON_AddStringToObject(a, "priority", alerts[i]->priority);
        cJSON_AddStringToObject(a, "category", alerts[i]->category);
        cJSON_AddStringToObject(a, "status", alerts[i]->status);
        cJSON_AddStringToObject(a, "title", alerts[i]->title);
        cJSON_AddStringToObject(a, "device", alerts[i]->device);
        cJSON_AddStringToObject(a, "building", items[i].building);
        cJSON_AddStringToObject(a, "floor", items[i].floor);
        cJSON_AddStringToObject(a, "room", items[i].room);
        cJSON_AddItemToArray(arr, a);
    }
    return o;
}

/* A report's placeholders: report_month, report_html, report_json,
 * report_txt (the files' paths), subject; NULL for another name. */
/* A work-order number of the alert JSON as a whole number: 0 when there is
 * none (a report's alerts are empty) or it is not one within range. */
static long long notify__jnum(const cJSON *v)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

    return d > -9e15 && d < 9e15 ? (long long)d : 0;
}

static const char *notify__report_lookup(const notify__ph_t *p, const char *name)
{
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(p->doc, "report");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(rep, "files");

    if (strcmp(name, "report_month") == 0)
        return notify__jstr(rep, "month");
    if (strcmp(name, "report_html") == 0)
        return notify__jstr(files, "html");
    if (strcmp(name, "report_json") == 0)
        return notify__jstr(files, "json");
    if (strcmp(name, "report_txt") == 0)
        return notify__jstr(files, "txt");
    if (strcmp(name, "subject") == 0)
        return rep ? notify__jstr(rep, "subject") : p->m->message;
    return NULL;
}

static const char *notify__lookup(void *arg, const char *name)
{
    notify__ph_t *p = arg;
    static const char *const alert_keys[] = {"priority", "category", "device", "title", "building",
                                             "floor",    "room",     "status", NULL};

    if (strcmp(name, "phone") == 0 || strcmp(name, "email") == 0 || strcmp(name, "address") == 0)
        return p->r->address;
    if (strncmp(name, "report_", 7) == 0 || strcmp(name, "subject") == 0)
        return notify__report_lookup(p, name);
    if (strcmp(name, "recipient") == 0)
        return p->r->name;
    if (strcmp(name, "message") == 0)
        return p->m->message;
    if (strcmp(name, "group") == 0)
        return p->m->group;
    if (strcmp(name, "site") == 0)
        return p->n->cfg->site_id;
    if (strcmp(name, "site_name") == 0)
        return p->n->cfg->site_name;
    if (strcmp(name, "notification_id") == 0) {
        snprintf(p->buf, sizeof(p->buf), "%lld", (long long)p->m->id);
        return p->buf;
    }
    if (strcmp(name, "count") == 0) {
        snprintf(p->buf, sizeof(p->buf), "%d",
                 cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p->doc, "alerts")));
        return p->buf;
    }
    if (strcmp(name, "number") == 0) {
        /* a report has no alerts: no number */
        snprintf(p->buf, sizeof(p->buf), "%lld",
                 notify__jnum(cJSON_GetObjectItemCaseSensitive(p->first, "number")));
        return p->buf;
    }
    if (strcmp(name, "numbers") == 0) {
        const cJSON *a;
        p->nums[0] = '\0';
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(p->doc, "alerts"))
        {
            size_t l = strlen(p->nums);
            snprintf(p->nums + l, sizeof(p->nums) - l, "%s%lld", l ? " " : "",
                     notify__jnum(cJSON_GetObjectItemCaseSensitive(a, "number")));
        }
        return p->nums;
    }
    if (strcmp(name, "wo_id") == 0)
        return notify__jstr(p->first, "id");
    if (strcmp(name, "event") == 0)
        return notify__jstr(p->first, "event");
    for (int i = 0; alert_keys[i]; i++) {
        if (strcmp(name, alert_keys[i]) == 0)
            return notify__jstr(p->first, name);
    }
    return NULL;
}

char *notify__alert_env(const notify__ph_t *p)
{
    cJSON *copy, *rep;
    char *text;

    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(p->doc, "report")))
        return NULL;
    copy = cJSON_Duplicate(p->doc, 1);
    rep = cJSON_GetObjectItemCaseSensitive(copy, "report");
    cJSON_DeleteItemFromObjectCaseSensitive(rep, "html");
    cJSON_DeleteItemFromObjectCaseSensitive(rep, "text");
    text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

char *notify__expand(const char *tpl, notify__ph_t *p)
{
    size_t len = gw_template_expand(tpl, notify__lookup, p, NULL, 0);
    char *s = malloc(len + 1);
    if (s)
        gw_template_expand(tpl, notify__lookup, p, s, len + 1);
    return s;
}

/* The body of a webhook: form fields, or the alert JSON with the recipient,
 * address and message added. */
char *notify__http_body(const gw_hook_cfg_t *h, notify__ph_t *p)
{
    char *body = NULL;

    if (h->form) {
        size_t len = 0;
        body = calloc(1, 1);
        for (int i = 0; body && i < h->nfields; i++) {
            char *v = notify__expand(h->fields[i].value, p);
            char *ek = hk_urlencode(h->fields[i].key), *ev = v ? hk_urlencode(v) : NULL;
            char *g = ek && ev ? realloc(body, len + strlen(ek) + strlen(ev) + 3) : NULL;
            if (g) {
                len += (size_t)sprintf(g + len, "%s%s=%s", i ? "&" : "", ek, ev);
                body = g;
            } else {
                free(body);
                body = NULL;
            }
            free(v);
            free(ek);
            free(ev);
        }
        return body;
    }
    cJSON *o = cJSON_Duplicate(p->doc, 1);
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "recipient", p->r->name);
    cJSON_AddStringToObject(o, "to", p->r->address);
    cJSON_AddStringToObject(o, "message", p->m->message);
    cJSON_AddNumberToObject(o, "notification_id", (double)p->m->id);
    for (int i = 0; i < h->nfields; i++) {
        char *v = notify__expand(h->fields[i].value, p);
        if (v)
            cJSON_AddStringToObject(o, h->fields[i].key, v);
        free(v);
    }
    body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return body;
}
