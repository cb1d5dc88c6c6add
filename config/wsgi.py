import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

# A batch request builds some 100,000 short-lived objects (parsed events, rows, answers),
# nearly all freed by reference counting. With CPython's default thresholds that sets off
# dozens of collections, each walking every object the process holds; they cost a quarter of
# a batch's CPU. The objects loaded at start (modules, URLconf, models) live as long as the
# process: freeze them out of the collector's sight, and collect the youngest generation
# every 100,000 net allocations instead of 700. (At 20,000, a batch of 1,000 events still
# set off one collection of about 5 ms that found some 90 objects of garbage.)
gc.freeze()
gc.set_threshold(100_000, 50, 100)
