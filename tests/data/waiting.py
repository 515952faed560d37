"""What the playground's Python clients share: waiting for a condition."""
import sys
import time


def wait(what, check, seconds=60):
    """check()'s first truthy answer, asked every 0.2 s; exits the script
    saying `what` if none comes within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")
