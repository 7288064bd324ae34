/*
 * gw_rules.h: what the gateway adds around the pure rules (rules/rule.h)
 * that others outside the loop use too: the evidence JSON of an action
 * (core_evidence.c; the daemon and plantroomctl replay) and the rule-state file
 * that keeps baselines, trends and counters across restarts (gw_rulestate.c;
 * docs/architecture.md, "Rules: state across reloads and restarts").
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_RULES_H
#define PLANTROOM_GW_RULES_H

#include "gateway/core/gw_runtime.h"

/* The evidence JSON of action a of rule rc on point (unit): the values and
 * parameters that fired, the trend's predicted date and interval. Caller
 * frees; NULL when out of memory. */
char *gw_rule_evidence(const gw_rule_cfg_t *rc, const char *point, const char *unit,
                       const rule_action_t *a);
/* The same as a cJSON object, for callers that add to it (the caller
 * deletes it; NULL when out of memory). */
cJSON *gw_rule_evidence_tree(const gw_rule_cfg_t *rc, const char *point, const char *unit,
                             const rule_action_t *a);

/* The state of rule number i of the config (the daemon's runtime, replay's
 * array). */
typedef const rule_state_t *(*gw_rule_state_fn)(const void *arg, size_t i);

/* Rule i of cfg, a trend in a combination (cfg->rules[i].wear_lead >= 0),
 * acted with *a (its state, st(arg, i), already updated). The action of the
 * combination's one order (the rule cfg->rules[i].wear_lead's fingerprint):
 * returns its kind (never NONE), fills *out, *evidence (the acting trend's
 * evidence plus "wear" (core_wear.c), the caller's to free, NULL when out of
 * memory) and *driver (the index in cfg->rules of the member that drives
 * the order: its title is the order's title when it opens). */
rule_action_kind_t gw_wear_action(const gw_config_t *cfg, size_t i, const rule_action_t *a,
                                  gw_rule_state_fn st, const void *arg, rule_action_t *out,
                                  char **evidence, size_t *driver);

/* Write the states of every rule of rt to path: path.new, fsync, rename,
 * fsync of the directory. Returns 0 or a negative code with err. It is
 * gw_rulestate_encode then gw_rulestate_write. */
int gw_rulestate_save(const gw_runtime_t *rt, const char *path, char *err, size_t errlen);
/* The file's whole image in memory (loop thread: reads rt). *out is the
 * caller's to free. 0 or GW_ENOMEM. */
int gw_rulestate_encode(const gw_runtime_t *rt, void **out, size_t *len);
/* Write an image to path durably (any thread: touches nothing else). */
int gw_rulestate_write(const char *path, const void *buf, size_t len, char *err, size_t errlen);

/* What a load did: records restored into rules, records that matched no
 * rule, and restored states that held times from the future (bounded). */
typedef struct gw_rulestate_counts {
    size_t loaded, skipped, bounded;
} gw_rulestate_counts_t;

/* Load path into the rules of rt whose device, name, point, kind and learn
 * hash (rule_learn_hash) match a record and whose state is one a rule could
 * have written (rule_state_valid); other rules keep their fresh state.
 * The saved monotonic times are brought onto this run's clock (the same
 * boot: as they are; another boot: by the wall time that passed since the
 * save), and no time may lie in the future: past now (monotonic) or past
 * the wall clock by rt's time.max_future_ms (calendar) it is bounded
 * (rule_rebase). A file of version 1 (wall-clock times) is read too. A
 * missing file is not an error (counts 0). A damaged file (bad magic,
 * truncated, checksum) loads nothing and returns GW_ECORRUPT; a sound file
 * of version 1 or 2 (the raw rule_state_t) of another build's layout loads
 * nothing and returns GW_ESTATE (version 3, written now, stores each field
 * under a tag and restores what both builds know: gw_rulestate_fields.c);
 * a file that cannot be read, a negative errno. */
int gw_rulestate_load(gw_runtime_t *rt, const char *path, gw_rulestate_counts_t *n, char *err,
                      size_t errlen);

/* One field of rule_state_t as rules.state version 3 stores it: a stable
 * tag, the group it is restored with (all or none), where it lies. */
typedef struct gw_rs_field {
    uint16_t tag, group;
    uint32_t off, len;
} gw_rs_field_t;

/* The fields of kind (-1: those of every kind: the alarm, the stale times);
 * *n gets how many (0 and NULL: the kind has no state of its own). Static
 * tables. */
const gw_rs_field_t *gw_rulestate_fields(int kind, size_t *n);

#endif
