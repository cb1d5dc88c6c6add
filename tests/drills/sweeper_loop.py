"""`python -m tests.drills.sweeper_loop SECONDS`: one erp_sync sweeper pass every SECONDS.

Stands in for Celery beat's `erp_sync.sweep` (every 30 s in production) in the drills, so
a drill need not wait for beat. A pass that fails (the database or the broker is down) is
reported on one line and the loop goes on, as beat's next tick would.
"""

import json
import sys
import time

import django


def main(interval: float) -> None:
    django.setup()
    from django.db import connection

    from erp_sync.actors import system_actor
    from erp_sync.services.sweeper import sync_sweep

    while True:
        try:
            counts = sync_sweep(actor=system_actor())
            print(json.dumps(counts), flush=True)
        except Exception as error:  # the drill is the fault: report it and sweep again
            print(f"sweep failed: {type(error).__name__}: {error}"[:300], flush=True)
            connection.close()
        time.sleep(interval)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
