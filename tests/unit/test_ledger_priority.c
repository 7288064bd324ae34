/*
 * test_ledger_priority.c: a rule's UPDATE may raise the priority of its
 * active work order (a predicted failure drawing near), never lower it; each
 * raise is audited and announced as "priority_raised".
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "ledger_testutil.h"
#include "t.h"

#include <stdlib.h>

T_TEST(touch_raises_never_lowers)
{
    const char *path = lt_path("prio.db");
    char err[256];
    ledger_t *lg = NULL;
    ledger_trigger_result_t res;
    ledger_trigger_t t = lt_trigger("site-a", "lift-1", "vibration-wear", 1000);
    sqlite3 *raw;

    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!lg)
        return;
    t.priority = GW_PRIO_LOW;
    t.work_type = "preventive";
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &res, err, sizeof(err)), 0);
    t.ts_ms = 2000;
    t.priority = GW_PRIO_MEDIUM; /* nearer: more urgent */
    T_CHECK_EQ_INT(ledger_wo_touch(lg, &t, err, sizeof(err)), 0);
    t.ts_ms = 3000;
    t.priority = GW_PRIO_LOW; /* the rule would lower it: it stays */
    T_CHECK_EQ_INT(ledger_wo_touch(lg, &t, err, sizeof(err)), 0);
    t.ts_ms = 4000;
    t.priority = GW_PRIO_HIGH;
    T_CHECK_EQ_INT(ledger_wo_touch(lg, &t, err, sizeof(err)), 0);
    ledger_close(lg);

    raw = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(raw, "SELECT count(*) FROM work_orders WHERE priority = 'high'"), 1);
    T_CHECK_EQ_INT(lt_int(raw, "SELECT count(*) FROM work_orders"), 1);
    T_CHECK_EQ_INT(lt_int(raw, "SELECT count(*) FROM audit WHERE action = 'priority_raised'"), 2);
    T_CHECK_EQ_INT(lt_int(raw, "SELECT count(*) FROM outbox WHERE payload LIKE "
                               "'%\"event\":\"priority_raised\"%'"),
                   2);
    sqlite3_close(raw);
}

int main(void)
{
    T_RUN(touch_raises_never_lowers);
    lt_cleanup();
    return t_done();
}
