"""The bot starts without the libraries only a report or a letter needs."""

import subprocess
import sys


def test_serving_loads_no_chart_pdf_or_word_library():
    # A fresh interpreter: this test process may already have them from other tests.
    probe = (
        "import sys, bot.app, bot.cli; "
        "print(sorted(m for m in ('matplotlib', 'reportlab', 'docx', 'numpy') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
