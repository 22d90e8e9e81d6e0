#!/usr/bin/env python3
"""A mail user's side of the end-to-end test, with Python's own IMAP and LMTP clients.

  client.py count ADDRESS TLS_NAME CA_FILE USER PASSWORD   -> messages in INBOX (IMAPS 993)
  client.py deliver ADDRESS SENDER RECIPIENT SUBJECT       -> one message over LMTP (port 24)

TLS is verified against CA_FILE and TLS_NAME, not the address, exactly as a mail client
configured with the host's name would. The password is read from the environment
variable named by PASSWORD when it starts with '$', so it stays out of process lists.
"""
import imaplib
import os
import smtplib
import socket
import ssl
import sys


class NamedIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAP4_SSL that connects to an address but verifies the certificate for a name."""

    def __init__(self, address, tls_name, context):
        self._tls_name = tls_name
        super().__init__(address, 993, ssl_context=context)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._tls_name)


def count(address, tls_name, ca_file, user, password):
    if password.startswith("$"):
        password = os.environ[password[1:]]
    context = ssl.create_default_context(cafile=ca_file)
    imap = NamedIMAP4_SSL(address, tls_name, context)
    imap.login(user, password)
    status, data = imap.select("INBOX", readonly=True)
    if status != "OK":
        raise SystemExit(f"SELECT INBOX: {status} {data}")
    imap.logout()
    print(int(data[0]))


def deliver(address, sender, recipient, subject):
    """LMTP delivery, as the MTA in front of Dovecot would do it."""
    message = f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nsent by the dsprov end-to-end test\r\n"
    with smtplib.LMTP(address, 24, timeout=20) as lmtp:
        refused = lmtp.sendmail(sender, [recipient], message)
        if refused:
            raise SystemExit(f"refused: {refused}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"count": count, "deliver": deliver}[command](*args)
