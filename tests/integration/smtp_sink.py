# SPDX-License-Identifier: Apache-2.0
"""A local SMTP server for the report tests (Debian's python3-aiosmtpd):
every message accepted is written to OUT/NNN.eml, in order, once the
server has taken its DATA and answers 250 (what a real mail server commits
to).

    smtp_sink.py --port-file FILE --out DIR [--stall FLAG]

While the file FLAG exists, the server holds every new conversation at
RCPT TO (it touches FLAG.held first, so that a test knows a client waits
there): a client killed meanwhile has sent no message.
"""
import argparse
import asyncio
import os
import socket
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, out, stall):
        self.out = out
        self.stall = stall
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        while self.stall and os.path.exists(self.stall):
            with open(self.stall + ".held", "w") as f:
                f.write(address)
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        path = os.path.join(self.out, "%03d.eml" % self.n)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(path + ".tmp", path)
        with open(path + ".rcpt", "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stall")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with socket.socket() as s:  # a free port (the controller checks it by connecting)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = Controller(Handler(a.out, a.stall), hostname="127.0.0.1", port=port)
    c.start()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(a.port_file + ".tmp", a.port_file)
    print("smtp sink on port", port, flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
