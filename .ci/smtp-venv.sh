#!/usr/bin/env bash
# The SMTP server the mail tests run (tests/smtp/sink.py, on PyPI's aiosmtpd),
# in a venv under target/; idp::testing::SmtpSink finds it there. With
# SESAME_REQUIRE_SMTP=1 a missing venv fails those tests instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/smtp-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/pip" show aiosmtpd 2>/dev/null | grep -q 'Version: 1.4.6'; then
    rm -rf "$VENV"
    timeout 120 python3 -m venv "$VENV"
    timeout 300 "$VENV/bin/pip" install -q --disable-pip-version-check aiosmtpd==1.4.6
fi
"$VENV/bin/python" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__)'
