"""docs/policy.md's control table is generated from the code's one control table."""
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_policy_doc_matches_control_table():
    result = subprocess.run([sys.executable, os.path.join(TOP, 'scripts', 'policy-doc'), '--check'],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
