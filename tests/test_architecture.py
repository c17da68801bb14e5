"""The library's shape: what loads what, and how long its functions are."""

import subprocess
import sys


def test_report_loads_records_without_the_trainer():
    code = (
        "import sys, pepita_lib.report; "
        "print(sorted(m for m in ('pepita_lib.train', 'pepita_lib.runner', 'pepita_lib.rules') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
