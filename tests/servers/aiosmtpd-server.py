#!/usr/bin/python3
# tests/servers/aiosmtpd-server.py - the SMTP server of Debian's
# python3-aiosmtpd on loopback, for tests/servers/aiosmtpd.sh.
#
#   aiosmtpd-server.py PORT HOSTNAME CERT KEY
#
# Listens on 127.0.0.1:PORT, greets as HOSTNAME, offers STARTTLS with CERT
# and KEY, throws every message away (aiosmtpd.handlers.Sink). Ends on
# SIGTERM or SIGINT. Logs sessions to stderr. Runs with Debian's /usr/bin/python3, whose
# dist-packages hold aiosmtpd (another python3 on PATH may not).
import asyncio
import logging
import signal
import ssl
import sys

from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP


def main() -> int:
    if len(sys.argv) != 5:
        print("usage: aiosmtpd-server.py PORT HOSTNAME CERT KEY", file=sys.stderr)
        return 2
    port, hostname, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    # aiosmtpd logs each session to the "mail.log" logger: to stderr.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(Sink(), hostname=hostname, tls_context=tls,
                     require_starttls=False, timeout=30),
        host="127.0.0.1", port=port))
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    loop.run_until_complete(stop)
    server.close()
    loop.run_until_complete(server.wait_closed())
    return 0


if __name__ == "__main__":
    sys.exit(main())
