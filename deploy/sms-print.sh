#!/bin/sh
# deploy/sms-print.sh PHONE MESSAGE: the SMS "sender" of the bundled default
# config (deploy/plantroom.json, hook "sms"): it prints the message instead of
# sending it, so that the demo and a fresh install show who would be told
# what without a modem. plantroomd runs it without a shell, one argument
# each, as argv ["sms-print.sh", "{phone}", "{message}"]; the alert is also on
# stdin as JSON (docs/hooks.md). It prints one line:
#
#   SMS to +8613800000001: [Demo Tower] NEW CRITICAL #3 Fire alarm: zone 3 @ ...
#
# to the file $PLANTROOM_SMS_LOG when that is set (the demo sets it), else to
# stderr, which plantroomd puts in its log (journalctl -u plantroomd). Unlike
# a real sender, this line shows the phone number: use it for trials only.
#
# To send real SMS through a GSM modem with gammu-smsd (apt-get install
# gammu-smsd, configured for the modem), uncomment the exec line at the end:
# the message is then also queued for the modem, and a failure to queue it
# fails the hook, which plantroomd retries. Or point the hook's argv at
# gammu directly, without this script:
#   "argv": ["gammu-smsd-inject", "TEXT", "{phone}", "-autolen", "400", "-textutf8", "{message}"]
# SPDX-License-Identifier: Apache-2.0
set -eu
phone=${1:?usage: sms-print.sh PHONE MESSAGE}
message=${2:-}
line="SMS to $phone: $message"
if [ -n "${PLANTROOM_SMS_LOG:-}" ]; then
  printf '%s\n' "$line" >>"$PLANTROOM_SMS_LOG"
else
  printf '%s\n' "$line" >&2
fi
# exec gammu-smsd-inject TEXT "$phone" -autolen 400 -textutf8 "$message"
