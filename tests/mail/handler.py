"""An aiosmtpd handler for the tests: each message received is written to
DIR as one JSON file (envelope sender and recipients, subject, and the
plain-text and HTML bodies as the `email` package decodes them).

    python -m aiosmtpd -n -l 127.0.0.1:PORT -c handler.JsonDir DIR
"""

import email
import email.policy
import json
import os
import uuid


class JsonDir:
    def __init__(self, directory):
        self.directory = directory

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("JsonDir takes one argument: the directory to write to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "header_from": str(message["from"]),
            "subject": str(message["subject"]),
            "text": plain.get_content() if plain else None,
            "html": html.get_content() if html else None,
        }
        name = uuid.uuid4().hex
        partial = os.path.join(self.directory, f".{name}")
        with open(partial, "w") as f:
            json.dump(record, f)
        os.rename(partial, os.path.join(self.directory, f"{name}.json"))
        return "250 Message accepted"
