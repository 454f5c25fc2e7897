"""A real SMTP server for the tests (aiosmtpd): every message it accepts is
written to DIR as N.json (envelope, decoded headers and parts, read by
Python's own MIME parser) before it answers 250, so a sender that got its
answer finds the file. Prints the port it listens on, then serves until
killed.

    python sink.py DIR [PORT]      (PORT 0 or absent: any free port)
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        received = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        count = len([n for n in os.listdir(self.directory) if n.endswith(".json")])
        path = os.path.join(self.directory, f"{count + 1:04}.json")
        with open(path + ".part", "w", encoding="utf-8") as f:
            json.dump(received, f)
        os.replace(path + ".part", path)
        return "250 OK"


async def main():
    directory = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(directory)), "127.0.0.1", port, reuse_address=True)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
