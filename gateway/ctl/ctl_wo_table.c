/*
 * ctl_wo_table.c: how "plantroomctl workorders list" prints work orders
 * (ctl_wo.h): a table that fits the terminal, a phone's included, or one
 * JSON array. Cells are measured in display columns (UTF-8, East Asian
 * wide characters), cut with "..." when the terminal is too narrow, and
 * control characters print as '?', so that data cannot drive the terminal.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl_wo.h"
#include "gateway/base/gw_types.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Decode one UTF-8 sequence at s; returns its length (1 for a bad byte) and
 * its display width in *w (East Asian wide: 2, combining: 0, else 1). */
static int ctl_utf8_char(const unsigned char *s, int *w)
{
    unsigned cp;
    int len;

    if (s[0] < 0x80) {
        *w = 1;
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        *w = 1;
        return 1;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *w = 1;
            return 1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((cp >= 0x300 && cp <= 0x36f) || cp == 0x200b)
        *w = 0;
    else if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
             (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
             (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
             (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
             (cp >= 0x20000 && cp <= 0x3fffd))
        *w = 2;
    else
        *w = 1;
    return len;
}

static int ctl_width(const char *s)
{
    int total = 0, w;

    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += ctl_utf8_char(p, &w);
        total += w;
    }
    return total;
}

/* Blanks between table columns: 2, or 1 on a narrow terminal. */
static int ctl_gap = 2;

/* Print s in a cell of width columns (0: as wide as s), cut to at most max
 * columns (0: no limit) with "..." and padded unless last. Control
 * characters print as '?', so that data cannot drive the terminal. */
static void ctl_cell(const char *s, int width, int max, int right, int last)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "-");
    int total = ctl_width((const char *)p);
    int room = max && total > max ? (max > 3 ? max - 3 : 0) : INT_MAX;
    int shown = 0, w, len;

    if (right && width > total)
        printf("%*s", width - total, "");
    for (; *p; p += len) {
        len = ctl_utf8_char(p, &w);
        if (shown + w > room)
            break;
        if (*p < 0x20 || *p == 0x7f)
            putchar('?');
        else
            fwrite(p, 1, (size_t)len, stdout);
        shown += w;
    }
    if (room != INT_MAX) {
        fputs(max > 3 ? "..." : "", stdout);
        shown += max > 3 ? 3 : 0;
    }
    if (!right && !last && width > shown)
        printf("%*s", width - shown, "");
    if (!last)
        printf("%*s", ctl_gap, "");
}

/* Terminal width: the tty's, else $COLUMNS, else 0 (unknown: no cutting). */
static int ctl_term_width(void)
{
    struct winsize ws;
    const char *c = getenv("COLUMNS");
    char *end;
    long v;

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (c && *c) {
        errno = 0;
        v = strtol(c, &end, 10);
        if (!errno && !*end && v >= 20 && v <= 10000)
            return (int)v;
    }
    return 0;
}

static void ctl_local_time(int64_t ms, int short_form, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!localtime_r(&t, &tm) ||
        !strftime(buf, len, short_form ? "%m-%d %H:%M" : "%Y-%m-%d %H:%M", &tm))
        snprintf(buf, len, "?");
}

enum { COL_NUMBER, COL_STATUS, COL_PRIO, COL_DEVICE, COL_RULE, COL_OPENED, COL_OCC, COL__N };

static const char *const ctl_heads[COL__N] = {"NUMBER", "STATUS", "PRIO", "DEVICE",
                                              "RULE",   "OPENED", "OCC"};

/* The table. Wide terminals get one row per order: NUMBER STATUS PRIO
 * DEVICE RULE OPENED OCC TITLE, the title cut to fit. Narrow ones (a phone)
 * get NUMBER STATUS PRIO OPENED OCC (about 40 columns), then device / rule
 * and the title on indented lines of their own. */
void ctl__wo_print_table(const ledger_wo_t *wo, size_t n)
{
    static const int caps[COL__N] = {0, 0, 0, 20, 24, 0, 0};
    int width = ctl_term_width();
    int w[COL__N];
    int fixed = 0, narrow;
    char cell[COL__N][64];

    for (int c = 0; c < COL__N; c++)
        w[c] = ctl_width(ctl_heads[c]);
    for (size_t i = 0; i < n; i++) {
        int dw = ctl_width(wo[i].device), rw = ctl_width(wo[i].rule);
        snprintf(cell[0], sizeof(cell[0]), "%lld", (long long)wo[i].number);
        snprintf(cell[1], sizeof(cell[1]), "%lld", (long long)wo[i].occurrences);
        w[COL_NUMBER] = (int)strlen(cell[0]) > w[COL_NUMBER] ? (int)strlen(cell[0]) : w[COL_NUMBER];
        w[COL_OCC] = (int)strlen(cell[1]) > w[COL_OCC] ? (int)strlen(cell[1]) : w[COL_OCC];
        w[COL_STATUS] =
            ctl_width(wo[i].status) > w[COL_STATUS] ? ctl_width(wo[i].status) : w[COL_STATUS];
        w[COL_PRIO] =
            ctl_width(wo[i].priority) > w[COL_PRIO] ? ctl_width(wo[i].priority) : w[COL_PRIO];
        w[COL_DEVICE] = dw > w[COL_DEVICE] ? dw : w[COL_DEVICE];
        w[COL_RULE] = rw > w[COL_RULE] ? rw : w[COL_RULE];
    }
    for (int c = 0; c < COL__N; c++) {
        if (caps[c] && w[c] > caps[c])
            w[c] = caps[c];
    }
    w[COL_OPENED] = 16; /* "YYYY-MM-DD HH:MM" */
    for (int c = 0; c < COL__N; c++)
        fixed += w[c] + 2;
    narrow = width && width - fixed < 12;
    if (narrow) {
        w[COL_OPENED] = 11; /* "MM-DD HH:MM" */
        ctl_gap = 1;
    }

    for (int c = 0; c < COL__N; c++) {
        if (narrow && (c == COL_DEVICE || c == COL_RULE))
            continue;
        ctl_cell(ctl_heads[c], w[c], 0, c == COL_NUMBER || c == COL_OCC, narrow && c == COL_OCC);
    }
    if (!narrow)
        ctl_cell("TITLE", 0, 0, 0, 1);
    putchar('\n');

    for (size_t i = 0; i < n; i++) {
        snprintf(cell[COL_NUMBER], sizeof(cell[0]), "%lld", (long long)wo[i].number);
        snprintf(cell[COL_OCC], sizeof(cell[0]), "%lld", (long long)wo[i].occurrences);
        ctl_local_time(wo[i].opened_at, narrow, cell[COL_OPENED], sizeof(cell[0]));
        ctl_cell(cell[COL_NUMBER], w[COL_NUMBER], 0, 1, 0);
        ctl_cell(wo[i].status, w[COL_STATUS], 0, 0, 0);
        ctl_cell(wo[i].priority, w[COL_PRIO], 0, 0, 0);
        if (!narrow) {
            ctl_cell(wo[i].device, w[COL_DEVICE], w[COL_DEVICE], 0, 0);
            ctl_cell(wo[i].rule, w[COL_RULE], w[COL_RULE], 0, 0);
        }
        ctl_cell(cell[COL_OPENED], w[COL_OPENED], 0, 0, 0);
        ctl_cell(cell[COL_OCC], w[COL_OCC], 0, 1, narrow);
        if (!narrow) {
            ctl_cell(wo[i].title, 0, width ? width - fixed : 0, 0, 1);
            putchar('\n');
            continue;
        }
        /* narrow: two more lines, indented under STATUS */
        int indent = w[COL_NUMBER] + ctl_gap;
        int room = width - indent > 8 ? width - indent : 8;
        printf("\n%*s", indent, "");
        ctl_cell(wo[i].device, 0, room / 2 - 1, 0, 1);
        fputs(" / ", stdout);
        ctl_cell(wo[i].rule, 0, room - room / 2 - 2, 0, 1);
        printf("\n%*s", indent, "");
        ctl_cell(wo[i].title, 0, room, 0, 1);
        putchar('\n');
    }
}

/* One JSON array of ledger_wo_to_json objects, one object per line: valid
 * for any JSON parser, and still greppable. */
int ctl__wo_print_json(const ledger_wo_t *wo, size_t n)
{
    fputs(n ? "[\n" : "[", stdout);
    for (size_t i = 0; i < n; i++) {
        char *one = ledger_wo_to_json(&wo[i]);
        if (!one) {
            ctl_error("no_memory", "out of memory");
            return GW_ENOMEM;
        }
        printf("  %s%s\n", one, i + 1 < n ? "," : "");
        free(one);
    }
    fputs("]\n", stdout);
    return 0;
}
